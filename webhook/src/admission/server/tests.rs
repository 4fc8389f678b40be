//! HTTP layer tests: routing, bad input, metrics, readiness, panics — in process and over real
//! TLS on 127.0.0.1 with certificates from [`crate::admission::certs`]; plus certificate reload, TLS
//! version floor and a property test feeding random input to the handler.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fed_core::admission::{Endpoint, FederationView};
use fed_core::api::{ApiResourceRef, Federated, FederatedTypeConfig};
use fed_core::placement::JoinedCluster;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse};
use proptest::prelude::*;
use rustls::pki_types::ServerName;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::*;
use crate::admission::certs::{self, CertPaths, Sans};
use crate::admission::tls::{self, ReloadingCert};
use crate::metrics::Metrics;

/// An in-memory federation: two clusters, nothing else; readiness switchable.
#[derive(Default)]
struct Stub {
    not_ready: AtomicBool,
}

impl FederationView for Stub {
    fn clusters(&self) -> Vec<JoinedCluster> {
        ["earth", "vulcan"].iter().map(|n| JoinedCluster { name: n.to_string(), ..Default::default() }).collect()
    }
    fn type_config(&self, _: &str, _: &str) -> Option<FederatedTypeConfig> {
        None
    }
    fn namespace_placement(&self, _: &str) -> Option<Federated> {
        None
    }
    fn federated_object(&self, _: &ApiResourceRef, _: &str, _: &str) -> Option<Federated> {
        None
    }
    fn followed_namespace(&self, _: &str) -> Option<std::collections::BTreeMap<String, String>> {
        None
    }
}

impl Backend for Stub {
    fn is_ready(&self) -> bool {
        !self.not_ready.load(Ordering::SeqCst)
    }
}

/// Deterministic decisions for the transport tests: deny names starting with `deny`.
fn by_name(view: &dyn FederationView, _: Endpoint, req: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    let r = AdmissionResponse::from(req);
    if req.name.starts_with("deny") {
        r.deny(format!("denied {}; joined clusters: {}", req.name, view.clusters().len()))
    } else {
        r
    }
}

fn panics(_: &dyn FederationView, _: Endpoint, _: &AdmissionRequest<DynamicObject>) -> AdmissionResponse {
    panic!("decision bug")
}

fn app_with(decide: Decide, max_body: usize) -> (Arc<App>, Arc<Stub>, Arc<Metrics>) {
    let stub = Arc::new(Stub::default());
    let metrics = Arc::new(Metrics::new());
    let app = Arc::new(App::with_decide(stub.clone(), metrics.clone(), max_body, decide));
    (app, stub, metrics)
}

fn app() -> (Arc<App>, Arc<Stub>, Arc<Metrics>) {
    app_with(by_name, DEFAULT_MAX_BODY_BYTES)
}

fn review(name: &str, uid: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": name,
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "admin"},
            "object": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": "default", "annotations": {"kubefed.io/placement": "earth"}},
                "spec": {"replicas": 2}
            },
            "oldObject": null,
            "dryRun": false
        }
    })
}

fn post(path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path).header("content-type", "application/json").body(Full::new(body.into())).unwrap()
}

async fn call(app: &App, req: Request<Full<Bytes>>) -> (StatusCode, String) {
    let resp = app.handle(req).await;
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn assert_one_line_400(status: StatusCode, body: &str, needle: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.ends_with('\n') && body.trim_end().lines().count() == 1, "one line: {body:?}");
    assert!(body.contains(needle), "expected {needle:?} in {body:?}");
}

#[tokio::test]
async fn valid_reviews_get_a_review_back_with_the_uid() {
    let (app, _, _) = app();
    for path in ["/validate", "/mutate", "/follow", "/validate?timeout=5s"] {
        let (status, body) = call(&app, post(path, review("web", "uid-1").to_string())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], "uid-1");
        assert_eq!(v["response"]["allowed"], true);
        assert!(v.get("request").is_none());
    }
    let (_, body) = call(&app, post("/validate", review("deny-me", "uid-2").to_string())).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["allowed"], false);
    assert_eq!(v["response"]["status"]["message"], "denied deny-me; joined clusters: 2");
}

#[tokio::test]
async fn bad_input_gets_400_with_a_one_line_message() {
    let (app, _, metrics) = app();
    let cases: Vec<(Bytes, &str)> = vec![
        (Bytes::from_static(b"{not json"), "request body is not JSON"),
        (Bytes::from_static(b""), "request body is not JSON"),
        (Bytes::from_static(b"\xff\xfe\x00garbage"), "request body is not JSON"),
        (Bytes::from_static(b"[1,2]"), "got an array"),
        (Bytes::from_static(b"null"), "got null"),
        (Bytes::from_static(b"{}"), "expected apiVersion \"admission.k8s.io/v1\" and kind \"AdmissionReview\""),
        (
            Bytes::from(
                json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}).to_string(),
            ),
            "got apiVersion \"admission.k8s.io/v1beta1\"",
        ),
        (Bytes::from(json!({"apiVersion": "admission.k8s.io/v1", "kind": "Pod"}).to_string()), "kind \"Pod\""),
        (
            Bytes::from(json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).to_string()),
            "has no request",
        ),
        (
            Bytes::from(
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": null}).to_string(),
            ),
            "has no request",
        ),
        (
            Bytes::from(
                json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 3}})
                    .to_string(),
            ),
            "malformed AdmissionReview request",
        ),
        (Bytes::from(format!("{}\n\n{{", review("x", "u"))), "not JSON"),
    ];
    let n = cases.len() as u64;
    for (body, needle) in cases {
        let (status, text) = call(&app, post("/validate", body)).await;
        assert_one_line_400(status, &text, needle);
    }
    let text = metrics.encode();
    assert!(
        text.contains(&format!(r#"fed_webhook_requests_total{{endpoint="validate",decision="error"}} {n}"#)),
        "{text}"
    );
}

#[tokio::test]
async fn oversized_bodies_get_400() {
    let (app, _, metrics) = app_with(by_name, 1024);
    let big = format!(r#"{{"apiVersion":"admission.k8s.io/v1","pad":"{}"}}"#, "x".repeat(2000));
    // Declared length over the limit: refused before reading.
    let (status, text) = call(&app, post("/mutate", big.clone())).await;
    assert_one_line_400(status, &text, "larger than the 1024 byte limit");
    // No length declared (chunked): refused while reading.
    let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
        big.as_bytes().chunks(100).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
    let streamed = Request::post("/mutate").body(StreamBody::new(futures::stream::iter(chunks))).unwrap();
    let resp = app.handle(streamed).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text2 = String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(text2.contains("larger than the 1024 byte limit"), "{text2}");
    assert!(metrics.encode().contains(r#"fed_webhook_requests_total{endpoint="mutate",decision="error"} 2"#));
    // A small valid one still works.
    let (status, _) = call(&app, post("/mutate", review("a", "u").to_string())).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn routing_methods_and_probes() {
    let (app, stub, _) = app();
    let get = |p: &str| Request::get(p).body(Full::new(Bytes::new())).unwrap();
    assert_eq!(call(&app, get("/healthz")).await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(call(&app, get("/readyz")).await, (StatusCode::OK, "ok\n".into()));
    assert_eq!(call(&app, get("/nope")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, post("/nope", "{}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, post("/validate/extra", "{}")).await.0, StatusCode::NOT_FOUND);
    let resp = app.handle(get("/validate")).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "POST");
    let resp = app.handle(post("/healthz", "")).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    let resp = app.handle(get("/metrics")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));

    stub.not_ready.store(true, Ordering::SeqCst);
    assert_eq!(call(&app, get("/readyz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(call(&app, get("/healthz")).await.0, StatusCode::OK, "liveness does not depend on caches");
}

#[tokio::test]
async fn admission_before_caches_sync_is_denied_with_a_retry_hint() {
    let (app, stub, metrics) = app();
    stub.not_ready.store(true, Ordering::SeqCst);
    let (status, body) = call(&app, post("/validate", review("web", "u-9").to_string())).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["response"]["uid"], "u-9");
    assert_eq!(v["response"]["allowed"], false);
    assert!(v["response"]["status"]["message"].as_str().unwrap().contains("caches have not synced"));
    assert!(metrics.encode().contains(r#"fed_webhook_requests_total{endpoint="validate",decision="error"} 1"#));
    stub.not_ready.store(false, Ordering::SeqCst);
    let (_, body) = call(&app, post("/validate", review("web", "u-10").to_string())).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["response"]["allowed"], true);
}

#[tokio::test]
async fn a_panicking_decision_is_contained() {
    let (app, _, metrics) = app_with(panics, DEFAULT_MAX_BODY_BYTES);
    let (status, body) = call(&app, post("/mutate", review("web", "u-p").to_string())).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["response"]["uid"].as_str(), v["response"]["allowed"].as_bool()), (Some("u-p"), Some(false)));
    assert!(metrics.encode().contains(r#"fed_webhook_requests_total{endpoint="mutate",decision="error"} 1"#));
}

#[tokio::test]
async fn metrics_count_decisions_per_endpoint() {
    let (app, _, metrics) = app();
    for (path, name) in [("/validate", "a"), ("/validate", "deny-b"), ("/validate", "deny-c"), ("/mutate", "d")] {
        call(&app, post(path, review(name, "u").to_string())).await;
    }
    call(&app, post("/mutate", "nope")).await;
    let text = metrics.encode();
    for line in [
        r#"fed_webhook_requests_total{endpoint="validate",decision="allowed"} 1"#,
        r#"fed_webhook_requests_total{endpoint="validate",decision="denied"} 2"#,
        r#"fed_webhook_requests_total{endpoint="mutate",decision="allowed"} 1"#,
        r#"fed_webhook_requests_total{endpoint="mutate",decision="error"} 1"#,
        r#"fed_webhook_request_duration_seconds_count{endpoint="validate"} 3"#,
        r#"fed_webhook_request_duration_seconds_count{endpoint="mutate"} 2"#,
        r#"fed_webhook_request_duration_seconds_bucket{le="0.0001",endpoint="validate"}"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // The /metrics route serves the same text.
    let (_, served) = call(&app, Request::get("/metrics").body(Full::new(Bytes::new())).unwrap()).await;
    assert!(served.contains(r#"decision="denied"} 2"#));
}

/// With fed-core's real decision function the transport still answers with a well-formed
/// review (whatever the decision is).
#[tokio::test]
async fn real_decisions_keep_the_review_shape() {
    let stub = Arc::new(Stub::default());
    let app = App::new(stub, Arc::new(Metrics::new()), DEFAULT_MAX_BODY_BYTES);
    for path in ["/mutate", "/validate"] {
        let (status, body) = call(&app, post(path, review("web", "uid-real").to_string())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["response"]["uid"], "uid-real");
        assert!(v["response"]["allowed"].is_boolean());
    }
}

// ------------------------------------------------------------------ over TLS

struct Running {
    addr: SocketAddr,
    paths: CertPaths,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), &mut self.task).await.expect("server stops").unwrap().unwrap();
    }
}

async fn serve(app: Arc<App>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    certs::ensure(dir.path(), &Sans::default().or_loopback(), 30, false).unwrap();
    let paths = CertPaths::in_dir(dir.path());
    let provider = tls::provider();
    let cert = ReloadingCert::load(&paths.tls_cert, &paths.tls_key, provider.clone()).unwrap();
    let watcher = tls::watch_files(&cert).unwrap();
    let config = tls::server_config(cert, provider).unwrap();
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), config, app).await.unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let r = server.run(async move { drop(rx.await) }).await;
        drop(watcher);
        r
    });
    Running { addr, paths, _dir: dir, stop: Some(tx), task }
}

fn connector(ca: &Path, alpn: &[&[u8]], versions: &[&'static rustls::SupportedProtocolVersion]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(config))
}

async fn connect(
    addr: SocketAddr,
    connector: &TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector.connect(ServerName::IpAddress(addr.ip().into()), tcp).await
}

type Sent = (StatusCode, Bytes);

/// Send every request over one HTTP/1.1 connection (keep-alive).
async fn http1(addr: SocketAddr, connector: &TlsConnector, reqs: Vec<Request<Full<Bytes>>>) -> Vec<Sent> {
    let tls = connect(addr, connector).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let mut out = Vec::new();
    for req in reqs {
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status();
        out.push((status, resp.into_body().collect().await.unwrap().to_bytes()));
    }
    out
}

#[tokio::test]
async fn serves_http1_with_keep_alive_over_tls() {
    let (app, _, metrics) = app();
    let running = serve(app).await;
    let c = connector(&running.paths.ca_cert, &[b"http/1.1"], tls::PROTOCOL_VERSIONS);
    let results = http1(
        running.addr,
        &c,
        vec![
            post("/validate", review("web", "k1").to_string()),
            post("/mutate", review("deny-x", "k2").to_string()),
            post("/validate", "garbage"),
            Request::get("/healthz").body(Full::new(Bytes::new())).unwrap(),
            Request::get("/missing").body(Full::new(Bytes::new())).unwrap(),
            Request::put("/mutate").body(Full::new(Bytes::new())).unwrap(),
        ],
    )
    .await;
    let statuses: Vec<u16> = results.iter().map(|r| r.0.as_u16()).collect();
    assert_eq!(statuses, [200, 200, 400, 200, 404, 405]);
    let first: Value = serde_json::from_slice(&results[0].1).unwrap();
    assert_eq!(first["response"]["uid"], "k1");
    let second: Value = serde_json::from_slice(&results[1].1).unwrap();
    assert_eq!(second["response"]["allowed"], false);
    assert!(metrics.encode().contains(r#"fed_webhook_requests_total{endpoint="validate",decision="error"} 1"#));
    running.stop().await;
}

#[tokio::test]
async fn serves_http2_when_negotiated() {
    let (app, _, _) = app();
    let running = serve(app).await;
    let c = connector(&running.paths.ca_cert, &[b"h2"], tls::PROTOCOL_VERSIONS);
    let tls = connect(running.addr, &c).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let uri = format!("https://{}/validate", running.addr);
    let mut pending = Vec::new();
    for i in 0..8 {
        let req = Request::post(uri.as_str())
            .body(Full::new(Bytes::from(review("web", &format!("h2-{i}")).to_string())))
            .unwrap();
        pending.push(sender.send_request(req));
    }
    for (i, fut) in pending.into_iter().enumerate() {
        let resp = fut.await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        assert_eq!(resp.status(), StatusCode::OK);
        let v: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(v["response"]["uid"], format!("h2-{i}"));
    }
    running.stop().await;
}

#[tokio::test]
async fn tls12_is_accepted_and_tls11_refused() {
    let (app, _, _) = app();
    let running = serve(app).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let c = connector(&running.paths.ca_cert, &[b"http/1.1"], &[version]);
        let tls = connect(running.addr, &c).await.unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
    }

    // A TLS 1.1 ClientHello (no supported_versions extension, legacy version 3.2), written by
    // hand since no rustls client can speak 1.1: the server answers with a fatal
    // protocol_version alert. The same bytes saying 1.2 get a ServerHello, so the version is
    // the only reason for the refusal.
    let answer = first_flight(running.addr, &raw_client_hello([0x03, 0x02])).await;
    assert!(answer.len() >= 7, "expected an alert, got {answer:?}");
    assert_eq!(answer[0], 0x15, "an alert record, not a handshake: {answer:?}");
    assert_eq!((answer[5], answer[6]), (2, 70), "fatal protocol_version: {answer:?}");
    let answer = first_flight(running.addr, &raw_client_hello([0x03, 0x03])).await;
    assert_eq!(answer.first(), Some(&0x16), "a handshake record (ServerHello): {answer:?}");
    assert_eq!(answer.get(5), Some(&0x02), "ServerHello: {answer:?}");
    running.stop().await;
}

/// A minimal ClientHello record with `version` as client_version and no supported_versions.
fn raw_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut hello = version.to_vec();
    hello.extend_from_slice(&[7u8; 32]); // random
    hello.push(0); // empty session id
    hello.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]); // ECDHE-{ECDSA,RSA}-AES128-GCM-SHA256
    hello.extend_from_slice(&[0x01, 0x00]); // null compression
    let extensions = [
        0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, // signature_algorithms: ecdsa_secp256r1_sha256
        0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, // supported_groups: secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
    ];
    hello.extend_from_slice(&[0x00, extensions.len() as u8]);
    hello.extend_from_slice(&extensions);
    let mut handshake = vec![0x01, 0x00, 0x00, hello.len() as u8];
    handshake.extend_from_slice(&hello);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

/// Send raw bytes, return the first bytes the server answers with.
async fn first_flight(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer)).await.expect("an answer").unwrap_or(0);
    answer.truncate(n);
    answer
}

async fn served_cert(addr: SocketAddr, ca: &Path) -> Option<Vec<u8>> {
    let c = connector(ca, &[b"http/1.1"], tls::PROTOCOL_VERSIONS);
    let tls = connect(addr, &c).await.ok()?;
    Some(tls.get_ref().1.peer_certificates()?.first()?.to_vec())
}

#[tokio::test]
async fn the_serving_certificate_is_reloaded_when_its_files_change() {
    let (app, _, _) = app();
    let running = serve(app).await;
    let old_ca = running._dir.path().join("old-ca.crt");
    std::fs::copy(&running.paths.ca_cert, &old_ca).unwrap();
    assert!(served_cert(running.addr, &old_ca).await.is_some());

    // Garbage in the certificate file: the old certificate keeps serving.
    let good = std::fs::read(&running.paths.tls_cert).unwrap();
    std::fs::write(&running.paths.tls_cert, "-----BEGIN CERTIFICATE-----\nnope\n").unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(served_cert(running.addr, &old_ca).await.is_some(), "a bad file must not break serving");
    std::fs::write(&running.paths.tls_cert, &good).unwrap();

    // A whole new CA and serving certificate: within a few checks the new one is served.
    certs::ensure(running._dir.path(), &Sans::default().or_loopback(), 30, true).unwrap();
    let new_leaf = rustls::pki_types::CertificateDer::pem_file_iter(&running.paths.tls_cert)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec();
    let mut served = None;
    for _ in 0..50 {
        served = served_cert(running.addr, &running.paths.ca_cert).await;
        if served.as_deref() == Some(new_leaf.as_slice()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served.as_deref(), Some(new_leaf.as_slice()), "the new certificate is served");
    assert!(served_cert(running.addr, &old_ca).await.is_none(), "the old CA no longer verifies the server");
    running.stop().await;
}

/// A Secret volume's update, as the kubelet makes it: the files are symlinks through `..data`,
/// and the new contents arrive by renaming a new `..data` over the old one. The watcher sees the
/// rename in the directory and the new certificate is the one served.
#[tokio::test]
async fn a_secret_volume_swap_is_picked_up() {
    let mount = tempfile::tempdir().unwrap();
    let version = |name: &str| {
        let dir = mount.path().join(name);
        certs::ensure(&dir, &Sans::default().or_loopback(), 30, false).unwrap();
        std::fs::read(CertPaths::in_dir(&dir).tls_cert).unwrap()
    };
    let first = version("..2026_12_07_a");
    std::os::unix::fs::symlink("..2026_12_07_a", mount.path().join("..data")).unwrap();
    for file in ["tls.crt", "tls.key"] {
        std::os::unix::fs::symlink(format!("..data/{file}"), mount.path().join(file)).unwrap();
    }
    let paths = CertPaths::in_dir(mount.path());
    assert_eq!(paths.tls_cert.file_name().unwrap(), "tls.crt", "the layout the Secret volume uses");
    let cert = ReloadingCert::load(&paths.tls_cert, &paths.tls_key, tls::provider()).unwrap();
    let _watcher = tls::watch_files(&cert).unwrap();
    let leaf = |pem: &[u8]| rustls::pki_types::CertificateDer::pem_slice_iter(pem).next().unwrap().unwrap().to_vec();
    assert_eq!(cert.current().cert[0].to_vec(), leaf(&first));

    let second = version("..2026_12_07_b");
    assert_ne!(leaf(&first), leaf(&second));
    std::os::unix::fs::symlink("..2026_12_07_b", mount.path().join("..data_tmp")).unwrap();
    std::fs::rename(mount.path().join("..data_tmp"), mount.path().join("..data")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while cert.current().cert[0].to_vec() != leaf(&second) {
        assert!(std::time::Instant::now() < deadline, "the swapped certificate was not picked up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_lets_an_idle_keep_alive_connection_go() {
    let (app, _, _) = app();
    let running = serve(app).await;
    let c = connector(&running.paths.ca_cert, &[b"http/1.1"], tls::PROTOCOL_VERSIONS);
    let tls = connect(running.addr, &c).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let resp = sender.send_request(Request::get("/healthz").body(Full::new(Bytes::new())).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The connection stays open (keep-alive); stopping must not wait for the grace period.
    let started = std::time::Instant::now();
    running.stop().await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

// ------------------------------------------------------------------ property tests

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("admission.k8s.io/v1"),
            Just("AdmissionReview"),
            Just("CREATE"),
            Just("UPDATE"),
            Just("kubefed.io/placement"),
            Just("earth, vulcn"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z/.]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid review with one field of the request (or its object) replaced by random JSON.
fn arb_review() -> impl Strategy<Value = Value> {
    let fields = prop_oneof![
        Just("uid"),
        Just("kind"),
        Just("resource"),
        Just("name"),
        Just("namespace"),
        Just("operation"),
        Just("userInfo"),
        Just("object"),
        Just("oldObject"),
        Just("dryRun"),
        Just("object.metadata"),
        Just("object.metadata.annotations"),
        Just("object.spec"),
    ];
    (fields, arb_json(), "[a-z-]{0,8}").prop_map(|(field, value, name)| {
        let mut r = review(&name, "p");
        let mut target = &mut r["request"];
        let mut parts = field.split('.').peekable();
        while let Some(p) = parts.next() {
            if parts.peek().is_none() {
                target[p] = value.clone();
            } else {
                target = &mut target[p];
            }
        }
        r
    })
}

fn check_answer(answer: &Answer) {
    match answer.status {
        StatusCode::BAD_REQUEST => {
            let text = std::str::from_utf8(&answer.body).unwrap();
            assert!(text.ends_with('\n') && !text.trim_end().contains('\n'), "one line: {text:?}");
        }
        StatusCode::OK => {
            let v: Value = serde_json::from_slice(&answer.body).unwrap();
            assert_eq!(v["kind"], "AdmissionReview");
            assert!(v["response"]["allowed"].is_boolean());
            assert!(v["response"]["uid"].is_string());
        }
        other => panic!("unexpected status {other}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let (app, _, _) = app();
        check_answer(&app.admit(Endpoint::Validate, &body));
        check_answer(&app.admit(Endpoint::Mutate, &body));
    }

    #[test]
    fn random_json_never_panics(value in arb_json()) {
        let (app, _, _) = app();
        let body = serde_json::to_vec(&value).unwrap();
        let answer = app.admit(Endpoint::Validate, &body);
        check_answer(&answer);
        prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }

    /// Near-valid reviews through fed-core's real decision function: always a 400 or a
    /// well-formed review, and never a contained panic.
    #[test]
    fn random_reviews_get_400_or_a_review(value in arb_review(), mutate in any::<bool>()) {
        let stub = Arc::new(Stub::default());
        let app = App::new(stub, Arc::new(Metrics::new()), DEFAULT_MAX_BODY_BYTES);
        let endpoint = if mutate { Endpoint::Mutate } else { Endpoint::Validate };
        let answer = app.admit(endpoint, &serde_json::to_vec(&value).unwrap());
        check_answer(&answer);
        prop_assert!(answer.decision != Decision::Error || answer.status == StatusCode::BAD_REQUEST,
            "fed-core's review panicked on {}", value);
    }
}
