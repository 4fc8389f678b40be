//! One-line error messages.
//!
//! An API error prints the server's own message (an admission webhook's denial verbatim);
//! other errors print their context chain joined by `: `, without repeating a cause that an
//! outer message already contains.

/// Render an error chain as one line.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = match cause.downcast_ref::<kube::Error>() {
            Some(kube::Error::Api(status)) => {
                let msg = if status.message.is_empty() { status.reason.clone() } else { status.message.clone() };
                push(&mut parts, msg);
                break;
            }
            Some(kube::Error::Service(inner)) => inner.to_string(),
            Some(kube::Error::HyperError(inner)) => inner.to_string(),
            _ => cause.to_string(),
        };
        push(&mut parts, text);
    }
    parts.join(": ").replace(['\n', '\r'], " ")
}

fn push(parts: &mut Vec<String>, text: String) {
    let text = text.trim().to_string();
    if text.is_empty() || parts.iter().any(|p| p.contains(&text)) {
        return;
    }
    parts.push(text);
}

/// True when a kube error is an API response with this HTTP code.
pub fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

/// True when the error means the server could not be reached at all (as opposed to an API
/// answer such as Forbidden or NotFound).
pub fn is_unreachable(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        matches!(
            c.downcast_ref::<kube::Error>(),
            Some(kube::Error::Service(_) | kube::Error::HyperError(_) | kube::Error::HttpError(_))
        ) || c.downcast_ref::<std::io::Error>().is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn api_errors_print_the_server_message_verbatim() {
        let status = kube::core::Status::failure(
            r#"admission webhook "validate.kubefed.io" denied the request: cluster "marss" is not joined"#,
            "BadRequest",
        )
        .with_code(400);
        let err = anyhow::Error::from(kube::Error::Api(status.boxed()));
        assert_eq!(
            one_line(&err),
            r#"admission webhook "validate.kubefed.io" denied the request: cluster "marss" is not joined"#
        );
        let wrapped = Err::<(), _>(err).context("patching deployment.apps/web").unwrap_err();
        assert_eq!(
            one_line(&wrapped),
            r#"patching deployment.apps/web: admission webhook "validate.kubefed.io" denied the request: cluster "marss" is not joined"#
        );
    }

    #[test]
    fn repeated_causes_and_newlines_are_dropped() {
        let io = std::io::Error::other("connection refused");
        let err = anyhow::Error::from(io).context("dial: connection refused").context("reaching vulcan\nnow");
        assert_eq!(one_line(&err), "reaching vulcan now: dial: connection refused");
    }
}
