//! AdmissionReview handling on both endpoints: any body goes through the webhook server's
//! parse → decide → serialize path (`wire::answer` with `review`) against a fixed federation.
//! Not a review: 400 with one line. A review: 200 echoing the request's uid, a deny always
//! says why, the decision is the same under dryRun, and on /mutate the request is allowed and
//! its patch applies to the object and is idempotent.
#![no_main]

use fed_core::admission::wire::{self, Decided, Handled};
use fed_core::admission::{Endpoint, FederationView, review};
use fed_fuzz::{assert_message, federation};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|body: &[u8]| {
    for endpoint in [Endpoint::Mutate, Endpoint::Validate, Endpoint::Follow] {
        check(federation(), endpoint, body);
    }
});

fn check(view: &dyn FederationView, endpoint: Endpoint, body: &[u8]) {
    let mut decided = None;
    let answer = wire::answer(body, |request| {
        let response = review(view, endpoint, request);
        decided = Some((request.clone(), response.clone()));
        Decided::Decision(response)
    });
    let Some((request, response)) = decided else {
        assert_eq!(answer.status, wire::BAD_REQUEST, "{:?}", answer.outcome);
        assert!(matches!(answer.outcome, Handled::BadInput(_)), "{:?}", answer.outcome);
        let text = std::str::from_utf8(&answer.body).expect("a UTF-8 message");
        return assert_message(text.strip_suffix('\n').expect("ends with a newline"), "");
    };
    assert_eq!(answer.status, wire::OK, "{:?}", answer.outcome);
    assert_eq!(answer.outcome, if response.allowed { Handled::Allowed } else { Handled::Denied });
    let sent: Value = serde_json::from_slice(&answer.body).expect("the answer is JSON");
    assert_eq!((&sent["apiVersion"], &sent["kind"]), (&"admission.k8s.io/v1".into(), &"AdmissionReview".into()));
    assert_eq!(sent["response"]["uid"], request.uid.as_str());
    assert_eq!(sent["response"]["allowed"], response.allowed);
    if !response.allowed {
        assert_message(&response.result.message, "");
    }
    for warning in response.warnings.iter().flatten() {
        assert_message(warning, "");
    }
    let mut dry = request.clone();
    dry.dry_run = !dry.dry_run;
    assert_eq!(comparable(&review(view, endpoint, &dry)), comparable(&response), "same decision under dryRun");
    if endpoint == Endpoint::Mutate {
        check_mutation(view, &request, &response);
    }
}

/// /mutate never denies; its patch applies to the object it was made for, and mutating the
/// patched object changes nothing more.
fn check_mutation(view: &dyn FederationView, request: &AdmissionRequest<DynamicObject>, response: &AdmissionResponse) {
    assert!(response.allowed, "/mutate denied: {}", response.result.message);
    let Some(patch) = &response.patch else { return };
    let patch: json_patch::Patch = serde_json::from_slice(patch).expect("a JSON patch");
    let object = request.object.as_ref().expect("a patch needs an object");
    let mut doc = serde_json::to_value(object).expect("an object serializes");
    json_patch::patch(&mut doc, &patch).expect("the patch applies to the object it was made for");
    let mut again = request.clone();
    again.object = Some(serde_json::from_value(doc).expect("the patched object is still an object"));
    let second = review(view, Endpoint::Mutate, &again);
    assert!(second.allowed && second.patch.is_none(), "not idempotent: {:?}", second.patch.map(String::from_utf8));
}

fn comparable(response: &AdmissionResponse) -> (bool, &str, Option<&Vec<String>>, Option<&Vec<u8>>) {
    (response.allowed, &response.result.message, response.warnings.as_ref(), response.patch.as_ref())
}
