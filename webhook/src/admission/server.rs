//! The HTTPS server: hyper 1 (HTTP/1.1 and HTTP/2, keep-alive) over tokio-rustls.
//!
//! Routes: `POST /mutate`, `POST /validate`, `POST /follow` (admission.k8s.io/v1 AdmissionReview in and out),
//! `GET /healthz`, `GET /readyz`, `GET /metrics`. The admission path is a thin shell around
//! [`fed_core::admission::wire::answer`]: parse, decide with [`fed_core::admission::review`]
//! against the in-memory view, serialize. Bad input gets HTTP 400 with a one-line message;
//! nothing on the request path panics or calls the API server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use fed_core::admission::wire::{self, Decided, Handled};
use fed_core::admission::{Endpoint, FederationView};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::metrics::{self, Decision, EndpointLabel, Metrics};

/// Largest accepted request body. An AdmissionReview carries the object and, on UPDATE, the old
/// object; the apiserver accepts request bodies up to 3 MiB, so twice that leaves room for both.
pub const DEFAULT_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;
/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight connections get this long to finish after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What the server decides against: the federation view plus cache readiness.
pub trait Backend: FederationView + Send + Sync + 'static {
    /// True once every cache has completed its initial list.
    fn is_ready(&self) -> bool;
}

/// The decision function (production: [`fed_core::admission::review`]).
pub type Decide = fn(&dyn FederationView, Endpoint, &AdmissionRequest<DynamicObject>) -> AdmissionResponse;

/// Request handling state shared by all connections.
pub struct App {
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    decide: Decide,
    max_body: usize,
}

/// The answer to one admission call, before it becomes an HTTP response.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Body: a serialized AdmissionReview (200) or a one-line message.
    pub body: Bytes,
    /// What the metrics record.
    pub decision: Decision,
}

impl Answer {
    fn bad_request(message: &str) -> Self {
        Answer { status: StatusCode::BAD_REQUEST, body: message_body(message), decision: Decision::Error }
    }
}

impl App {
    /// Handle requests against `backend` with fed-core's decisions.
    pub fn new(backend: Arc<dyn Backend>, metrics: Arc<Metrics>, max_body: usize) -> Self {
        Self::with_decide(backend, metrics, max_body, fed_core::admission::review)
    }

    /// Like [`App::new`] with another decision function (tests).
    pub fn with_decide(backend: Arc<dyn Backend>, metrics: Arc<Metrics>, max_body: usize, decide: Decide) -> Self {
        App { backend, metrics, decide, max_body }
    }

    /// Route one HTTP request.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = req.uri().path();
        let endpoint = match path {
            "/mutate" => Some(Endpoint::Mutate),
            "/validate" => Some(Endpoint::Validate),
            "/follow" => Some(Endpoint::Follow),
            _ => None,
        };
        if let Some(endpoint) = endpoint {
            if req.method() != Method::POST {
                return method_not_allowed("POST");
            }
            let started = Instant::now();
            let answer = self.admission(endpoint, req).await;
            self.metrics.observe(label(endpoint), answer.decision, started.elapsed().as_secs_f64());
            let content_type = if answer.status == StatusCode::OK { "application/json" } else { TEXT };
            return response(answer.status, content_type, answer.body);
        }
        let is_get = req.method() == Method::GET || req.method() == Method::HEAD;
        match path {
            "/healthz" | "/readyz" | "/metrics" if !is_get => method_not_allowed("GET, HEAD"),
            "/healthz" => text(StatusCode::OK, "ok"),
            "/readyz" if self.backend.is_ready() => text(StatusCode::OK, "ok"),
            "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet"),
            "/metrics" => response(StatusCode::OK, metrics::CONTENT_TYPE, Bytes::from(self.metrics.encode())),
            _ => text(StatusCode::NOT_FOUND, "404 page not found"),
        }
    }

    async fn admission<B>(&self, endpoint: Endpoint, req: Request<B>) -> Answer
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let declared =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body as u64) {
            return self.too_large();
        }
        let body = match Limited::new(req.into_body(), self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => return self.too_large(),
            Err(e) => {
                tracing::debug!(error = %e, "reading the request body failed");
                return Answer::bad_request(&format!("cannot read the request body: {e}"));
            }
        };
        self.admit(endpoint, &body)
    }

    fn too_large(&self) -> Answer {
        tracing::warn!(limit = self.max_body, "rejected an admission request: body too large");
        Answer::bad_request(&format!("request body is larger than the {} byte limit", self.max_body))
    }

    /// Decide one AdmissionReview body ([`wire::answer`] with readiness and panic containment).
    /// Synchronous and never panics.
    pub fn admit(&self, endpoint: Endpoint, body: &[u8]) -> Answer {
        let answer = wire::answer(body, |request| self.decide(endpoint, request));
        let decision = match &answer.outcome {
            Handled::Allowed => Decision::Allowed,
            Handled::Denied => Decision::Denied,
            Handled::Undecided => Decision::Error,
            Handled::BadInput(reason) => {
                tracing::warn!(reason, "rejected an admission request: bad input");
                Decision::Error
            }
            Handled::Unencodable(error) => {
                tracing::error!(%error, "serializing the AdmissionReview failed");
                Decision::Error
            }
        };
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Answer { status, body: Bytes::from(answer.body), decision }
    }

    /// Decides a parsed request: no decision while the caches are not synced or when the
    /// decision function panics.
    fn decide(&self, endpoint: Endpoint, request: &AdmissionRequest<DynamicObject>) -> Decided {
        let decided = if !self.backend.is_ready() {
            Decided::Undecided(
                AdmissionResponse::from(request)
                    .deny("fed-webhook is starting: its caches have not synced yet; retry in a few seconds"),
            )
        } else {
            let view: &dyn FederationView = &*self.backend;
            let decide = self.decide;
            match std::panic::catch_unwind(AssertUnwindSafe(|| decide(view, endpoint, request))) {
                Ok(response) => Decided::Decision(response),
                Err(_) => {
                    tracing::error!(uid = %request.uid, "admission decision panicked; denying the request");
                    Decided::Undecided(
                        AdmissionResponse::from(request).deny("fed-webhook internal error; see its logs"),
                    )
                }
            }
        };
        tracing::debug!(
            uid = %request.uid,
            endpoint = label(endpoint).as_str(),
            operation = ?request.operation,
            group = %request.kind.group,
            kind = %request.kind.kind,
            namespace = request.namespace.as_deref().unwrap_or(""),
            name = %request.name,
            dry_run = request.dry_run,
            decided = matches!(decided, Decided::Decision(_)),
            allowed = matches!(&decided, Decided::Decision(r) if r.allowed),
            "admission"
        );
        decided
    }
}

fn label(endpoint: Endpoint) -> EndpointLabel {
    match endpoint {
        Endpoint::Mutate => EndpointLabel::Mutate,
        Endpoint::Validate => EndpointLabel::Validate,
        Endpoint::Follow => EndpointLabel::Follow,
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// A one-line message body (newlines folded, length capped), ending in a newline.
fn message_body(message: &str) -> Bytes {
    Bytes::from(wire::one_line(message))
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    response(status, TEXT, message_body(message))
}

fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, &format!("method not allowed; use {allow}"));
    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A bound HTTPS listener ready to serve [`App`].
pub struct Server {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
}

impl Server {
    /// Bind `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr, tls: Arc<rustls::ServerConfig>, app: Arc<App>) -> Result<Self> {
        let listener = TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        Ok(Server { listener, acceptor: TlsAcceptor::from(tls), app })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serve until `shutdown` resolves, then let open connections finish (bounded): hyper-util's
    /// graceful shutdown tells each connection to close after its in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).keep_alive(true);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, app, builder, watcher) =
                (self.acceptor.clone(), self.app.clone(), builder.clone(), graceful.watcher());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                };
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(app.handle(req).await) }
                });
                if let Err(e) = watcher.watch(builder.serve_connection(TokioIo::new(tls), service)).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
            tracing::warn!("connections still open after the shutdown grace period; they close with the process");
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
