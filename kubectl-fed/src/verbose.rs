//! `-v N` / `--v=N`, kubefedctl's (klog's) verbosity flag: at 2 and above every request the CLI
//! sends is logged to stderr as `I] GET https://…/api/v1/namespaces/demo` (method and URL only:
//! never headers, bodies or tokens), so a user sees what each command calls.

use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};

use kube::client::Body;

/// The verbosity set by the global flag (0 when not given).
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The level from which requests are logged.
pub const REQUESTS: u8 = 2;

/// Sets the verbosity (once, from `main`).
pub fn set(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

/// The verbosity.
pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// The log line of one request: method and URL (the URL holds no credential: tokens travel in
/// headers, which are left out).
pub fn request_line(method: &str, uri: &str) -> String {
    format!("I] {method} {uri}")
}

/// A client layer logging each request when the verbosity is at least [`REQUESTS`]. It wraps
/// the whole stack, where a request carries only its path: `server` is put in front.
#[derive(Clone, Debug)]
pub struct LogRequests {
    /// The API server's URL (`https://127.0.0.1:6443`).
    pub server: String,
}

impl<S> tower::Layer<S> for LogRequests {
    type Service = Logged<S>;

    fn layer(&self, inner: S) -> Logged<S> {
        Logged { inner, server: self.server.trim_end_matches('/').to_string() }
    }
}

/// The service [`LogRequests`] wraps around the client's.
#[derive(Clone, Debug)]
pub struct Logged<S> {
    inner: S,
    server: String,
}

impl<S> tower::Service<http::Request<Body>> for Logged<S>
where
    S: tower::Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if level() >= REQUESTS {
            let uri = req.uri();
            let url = match uri.scheme() {
                Some(_) => uri.to_string(),
                None => format!("{}{}", self.server, uri.path_and_query().map_or("/", |p| p.as_str())),
            };
            eprintln!("{}", request_line(req.method().as_str(), &url));
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_is_method_and_url() {
        assert_eq!(
            request_line("GET", "https://127.0.0.1:6443/api/v1/namespaces/demo"),
            "I] GET https://127.0.0.1:6443/api/v1/namespaces/demo"
        );
    }
}
