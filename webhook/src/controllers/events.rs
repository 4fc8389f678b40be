//! Events on host objects: the one way the controllers publish them.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};
use tracing::debug;

/// The longest note an Event carries (the API server refuses longer ones).
const NOTE_LIMIT: usize = 1000;

/// Publishes an Event on `reference`; the note is cut to [`NOTE_LIMIT`] characters. A failure
/// is logged, never returned: an Event is a courtesy, not part of the work.
pub async fn publish(
    recorder: &Recorder,
    reference: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
    action: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(NOTE_LIMIT).collect()),
        action: action.to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, reference).await {
        debug!(error = %e, %reason, "publishing event");
    }
}
