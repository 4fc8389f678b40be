//! The wire form of admission: the body of a `POST /mutate` or `POST /validate` (an
//! admission.k8s.io/v1 AdmissionReview) in, an HTTP status and body out.
//!
//! [`answer`] is the whole parse → decide → serialize path. The webhook server wraps it with
//! transport concerns (body limits, readiness, panic containment, metrics, logs); the fuzz
//! targets drive it with [`super::review`] and a fixed view.

use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, META_API_VERSION_V1, META_KIND};
use serde_json::Value;

/// HTTP status of an answer carrying an AdmissionReview.
pub const OK: u16 = 200;
/// HTTP status of an answer to a body that is not a usable AdmissionReview.
pub const BAD_REQUEST: u16 = 400;
/// HTTP status of an answer whose AdmissionReview could not be serialized.
pub const INTERNAL_SERVER_ERROR: u16 = 500;
/// Longest one-line message (in bytes) before it is cut and ended with `…`.
pub const MAX_MESSAGE_LEN: usize = 400;

/// The answer to one admission body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status: [`OK`], [`BAD_REQUEST`] or [`INTERNAL_SERVER_ERROR`].
    pub status: u16,
    /// A serialized AdmissionReview ([`OK`]) or a one-line message ending in a newline.
    pub body: Vec<u8>,
    /// What happened, for metrics and logs.
    pub outcome: Handled,
}

/// What happened to one admission body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A decision with `allowed: true`.
    Allowed,
    /// A decision with `allowed: false`.
    Denied,
    /// The decision step made no decision (not ready, internal failure) and denied.
    Undecided,
    /// The body is not a usable AdmissionReview. The reason never contains input (objects may
    /// be Secrets): `not-json`, `wrong-type`, `no-request` or `malformed`.
    BadInput(&'static str),
    /// The response could not be serialized; the error.
    Unencodable(String),
}

/// What the decision step returns.
#[derive(Debug, Clone)]
pub enum Decided {
    /// A decision.
    Decision(AdmissionResponse),
    /// No decision could be made (not ready, internal failure); this deny is sent instead.
    Undecided(AdmissionResponse),
}

/// Parses `body` as an AdmissionReview, decides its request with `decide` and serializes the
/// answering AdmissionReview. The response's uid and API version always come from the request
/// (the apiserver matches answers by them). A body that is not a usable AdmissionReview gets
/// [`BAD_REQUEST`] with a one-line message; `decide` is not called then.
pub fn answer(body: &[u8], decide: impl FnOnce(&AdmissionRequest<DynamicObject>) -> Decided) -> Answer {
    let request = match parse(body) {
        Ok(request) => request,
        Err((reason, message)) => {
            return Answer {
                status: BAD_REQUEST,
                body: one_line(&message).into_bytes(),
                outcome: Handled::BadInput(reason),
            };
        }
    };
    let (mut response, outcome) = match decide(&request) {
        Decided::Decision(r) if r.allowed => (r, Handled::Allowed),
        Decided::Decision(r) => (r, Handled::Denied),
        Decided::Undecided(r) => (r, Handled::Undecided),
    };
    response.uid.clone_from(&request.uid);
    response.types.clone_from(&request.types);
    match serde_json::to_vec(&response.into_review()) {
        Ok(body) => Answer { status: OK, body, outcome },
        Err(e) => Answer {
            status: INTERNAL_SERVER_ERROR,
            body: one_line("cannot serialize the AdmissionReview response").into_bytes(),
            outcome: Handled::Unencodable(e.to_string()),
        },
    }
}

/// `message` as one line: control characters become spaces, cut at [`MAX_MESSAGE_LEN`] bytes
/// (on a character boundary, then `…`), ended with a newline.
pub fn one_line(message: &str) -> String {
    let mut line = super::single_line(message);
    if line.len() > MAX_MESSAGE_LEN {
        let mut cut = MAX_MESSAGE_LEN;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line.push('\n');
    line
}

/// The request of an admission.k8s.io/v1 AdmissionReview body, or (log reason, message).
fn parse(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, (&'static str, String)> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).map_err(|e| explain(body, &e))?;
    if review.types.api_version != META_API_VERSION_V1 || review.types.kind != META_KIND {
        return Err(("wrong-type", wrong_type(Some(&review.types.api_version), Some(&review.types.kind))));
    }
    review.try_into().map_err(|_| ("no-request", NO_REQUEST.to_string()))
}

const NO_REQUEST: &str = "the AdmissionReview has no request";

/// Why a body is not an AdmissionReview: (log reason, one-line message for the caller). Only
/// runs on the error path, so parsing twice costs nothing in the common case.
fn explain(body: &[u8], err: &serde_json::Error) -> (&'static str, String) {
    match serde_json::from_slice::<Value>(body) {
        Err(e) => ("not-json", format!("request body is not JSON: {e}")),
        Ok(Value::Object(map)) => {
            let api_version = map.get("apiVersion").and_then(Value::as_str);
            let kind = map.get("kind").and_then(Value::as_str);
            if api_version != Some(META_API_VERSION_V1) || kind != Some(META_KIND) {
                ("wrong-type", wrong_type(api_version, kind))
            } else if map.get("request").is_none_or(Value::is_null) {
                ("no-request", NO_REQUEST.to_string())
            } else {
                ("malformed", format!("malformed AdmissionReview request: {err}"))
            }
        }
        Ok(other) => {
            let what = crate::suggest::json_type(&other);
            ("wrong-type", format!("expected an {META_API_VERSION_V1} {META_KIND} object, got {what}"))
        }
    }
}

fn wrong_type(api_version: Option<&str>, kind: Option<&str>) -> String {
    let show = |v: Option<&str>| match v {
        Some(s) if !s.is_empty() => format!("{s:?}"),
        _ => "none".to_string(),
    };
    format!(
        "expected apiVersion {META_API_VERSION_V1:?} and kind {META_KIND:?}, got apiVersion {} and kind {}",
        show(api_version),
        show(kind)
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(uid: &str) -> Vec<u8> {
        json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                "resource": {"group": "", "version": "v1", "resource": "configmaps"},
                "operation": "CREATE", "userInfo": {}, "name": "cfg",
                "object": {"metadata": {"name": "cfg"}}
            }
        })
        .to_string()
        .into_bytes()
    }

    fn response(answer: &Answer) -> Value {
        assert_eq!(answer.status, OK);
        serde_json::from_slice::<Value>(&answer.body).unwrap()["response"].clone()
    }

    #[test]
    fn the_outcome_follows_the_decision_and_the_uid_follows_the_request() {
        let allowed = answer(&body("u-1"), |r| Decided::Decision(AdmissionResponse::from(r)));
        assert_eq!(allowed.outcome, Handled::Allowed);
        assert_eq!(response(&allowed)["uid"], "u-1");
        let denied = answer(&body("u-2"), |r| Decided::Decision(AdmissionResponse::from(r).deny("no")));
        assert_eq!(
            (denied.outcome.clone(), response(&denied)["status"]["message"].clone()),
            (Handled::Denied, json!("no"))
        );
        // A decision step that answers for another request still answers this one.
        let other = AdmissionResponse::invalid("x");
        let undecided = answer(&body("u-3"), |_| Decided::Undecided(other));
        assert_eq!(undecided.outcome, Handled::Undecided);
        assert_eq!(response(&undecided)["uid"], "u-3");
        assert_eq!(response(&undecided)["allowed"], false);
    }

    #[test]
    fn bad_bodies_get_400_without_a_decision() {
        let cases: [(&[u8], &str); 4] = [
            (b"{", "not-json"),
            (b"[]", "wrong-type"),
            (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "no-request"),
            (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":1}}"#, "malformed"),
        ];
        for (bad, reason) in cases {
            let a = answer(bad, |_| panic!("no decision for bad input"));
            assert_eq!((a.status, a.outcome), (BAD_REQUEST, Handled::BadInput(reason)));
        }
    }

    #[test]
    fn messages_are_one_capped_line() {
        assert_eq!(one_line("a\nb\tc"), "a b c\n");
        let long = one_line(&"é".repeat(MAX_MESSAGE_LEN));
        assert!(long.ends_with("…\n") && long.len() <= MAX_MESSAGE_LEN + "…\n".len(), "{long}");
    }
}
