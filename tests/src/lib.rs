//! Harness for the end-to-end tests: clients for the three test-bed clusters (starting the
//! bed when it is not running), condition waits with deadlines, fresh namespaces per test,
//! and the real `kubectl` / `kubectl fed` binaries.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::OnceCell;

pub mod host_pods;
pub mod unnamed;

/// The clusters of the test bed; `earth` is the host.
pub const CLUSTERS: [&str; 3] = ["earth", "vulcan", "kronos"];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `FED_TESTBED_PORT_BASE` (default 16443): earth's apiserver port, from which every port of
/// the bed derives (hack/lib.sh); fed-webhook listens on base + 47.
pub fn port_base() -> u16 {
    std::env::var("FED_TESTBED_PORT_BASE").ok().and_then(|v| v.parse().ok()).unwrap_or(16443)
}

/// `.local/kubeconfig`, written by `hack/cluster-up.sh`.
pub fn kubeconfig_path() -> PathBuf {
    repo_root().join(".local/kubeconfig")
}

/// Clients for the running test bed.
pub struct Bed {
    /// Host cluster (also a member once joined).
    pub earth: Client,
    /// Member cluster.
    pub vulcan: Client,
    /// Member cluster.
    pub kronos: Client,
}

impl Bed {
    /// The client for a cluster by name.
    pub fn cluster(&self, name: &str) -> &Client {
        match name {
            "earth" => &self.earth,
            "vulcan" => &self.vulcan,
            "kronos" => &self.kronos,
            other => panic!("no test-bed cluster named {other}"),
        }
    }
}

static BED: OnceCell<()> = OnceCell::const_new();
static FEDERATION: OnceCell<()> = OnceCell::const_new();

/// The test bed, started by `hack/cluster-up.sh` if needed (idempotent; once per test binary).
///
/// Clients are made per call: a kube `Client` is tied to the tokio runtime that created it,
/// and every `#[tokio::test]` has its own runtime.
pub async fn bed() -> Bed {
    BED.get_or_init(|| async { run_script("hack/cluster-up.sh").await.expect("test bed starts") }).await;
    clients().await.expect("clients for the test bed")
}

/// The test bed with the federation running (`hack/federation-up.sh`: CRDs, webhook and
/// controllers, clusters joined, common types enabled).
pub async fn federation() -> Bed {
    FEDERATION.get_or_init(|| async { run_script("hack/federation-up.sh").await.expect("federation starts") }).await;
    bed().await
}

async fn clients() -> anyhow::Result<Bed> {
    Ok(Bed {
        earth: client_for("earth").await?,
        vulcan: client_for("vulcan").await?,
        kronos: client_for("kronos").await?,
    })
}

/// `bash <repo>/<script> args…`, run from the repository root, without the variables cargo sets
/// for this test binary (`CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …). The scripts run `cargo
/// build`, and build scripts such as ring's rerun when those change, so passing them on would
/// rebuild half the dependency tree (and restart fed-webhook) on every switch between a build
/// from a test and one from a shell.
pub fn script_command(script: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(repo_root().join(script)).args(args).current_dir(repo_root());
    let set_by_cargo = |k: &str| {
        ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_", "CARGO_CRATE_", "CARGO_TARGET_TMPDIR", "CARGO_PRIMARY_PACKAGE"]
            .iter()
            .any(|p| k.starts_with(p))
            || k == "OUT_DIR"
    };
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(set_by_cargo) {
            cmd.env_remove(key);
        }
    }
    cmd
}

async fn run_script(script: &str) -> anyhow::Result<()> {
    run_script_with(script, &[]).await.map(drop)
}

/// Runs `script` ([`script_command`]) with `env` set, off the runtime's thread (a load the test
/// started keeps running meanwhile); its standard output, trimmed, or an error with all its
/// output when it fails.
pub async fn run_script_with(script: &str, env: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut cmd = script_command(script, &[]);
    cmd.envs(env.iter().copied());
    let out = tokio::process::Command::from(cmd).output().await.with_context(|| format!("running {script}"))?;
    if !out.status.success() {
        bail!("{script} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A client for one context of `.local/kubeconfig`.
pub async fn client_for(context: &str) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig_path())?;
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
    Ok(Client::try_from(config)?)
}

/// Polls `condition` until it returns `Some`, failing with `what` after `deadline`.
pub async fn wait_until<T, F, Fut>(deadline: Duration, what: &str, condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    match poll_until(deadline, condition).await {
        Some(value) => value,
        None => panic!("timed out after {deadline:?} waiting for {what}"),
    }
}

/// Polls `condition` every 200 ms until it returns `Some`; `None` once `deadline` has passed
/// (for checks that are reported rather than asserted on the spot).
pub async fn poll_until<T, F, Fut>(deadline: Duration, mut condition: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = condition().await {
            return Some(value);
        }
        if start.elapsed() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A name unique to this test run: `prefix-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A namespace made for one test on the host, deleted (with its contents) by [`TestNamespace::delete`].
pub struct TestNamespace {
    /// The namespace's name.
    pub name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates a fresh namespace named after `prefix` on `client`'s cluster.
    pub async fn create(client: &Client, prefix: &str) -> TestNamespace {
        let name = unique_name(prefix);
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap();
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("namespace created");
        TestNamespace { name, client: client.clone() }
    }

    /// Deletes the namespace (the bed's kube-controller-manager removes its contents).
    pub async fn delete(self) {
        let _ = Api::<Namespace>::all(self.client).delete(&self.name, &DeleteParams::default()).await;
    }
}

/// Runs the real `kubectl` against `.local/kubeconfig`, with `target/<profile>` (where
/// `kubectl-fed` is built) first on PATH so `kubectl fed …` goes through the plugin mechanism.
pub fn kubectl(args: &[&str]) -> Output {
    kubectl_with_stdin(args, None)
}

/// [`kubectl`] with a document on standard input (for `kubectl apply -f -`).
pub fn kubectl_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let path = format!("{}:{}", plugin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut child = std::process::Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig_path())
        .env("PATH", path)
        .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().expect("kubectl finishes")
}

/// `kubectl fed ARGS --context earth`, through the kubectl plugin mechanism.
pub fn kubectl_fed(args: &[&str]) -> Output {
    let mut all = vec!["fed"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--context", "earth"]);
    kubectl(&all)
}

/// Stdout of a command that must have succeeded (fails the test with its output otherwise).
/// `kubectl fed disable TYPE` once nothing of the type is left: a test namespace deleted just
/// before still holds its federated objects for a while, and disable refuses while they exist.
/// Panics if the type is still enabled after two minutes (a later test would see its rights).
pub async fn disable_when_unused(type_name: &str) {
    wait_until(Duration::from_secs(120), &format!("`kubectl fed disable {type_name}` succeeds"), || async {
        kubectl_fed(&["disable", type_name]).status.success().then_some(())
    })
    .await
}

pub fn succeeded(out: Output) -> String {
    assert!(out.status.success(), "{}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Directory holding the `kubectl-fed` binary built with these tests.
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test-binary>
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

/// Stdout and stderr of a finished command, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `hack/<script> args…`, asserting that it succeeds.
pub fn hack(script: &str, args: &[&str]) {
    let out = script_command(&format!("hack/{script}"), args).output().unwrap();
    assert!(out.status.success(), "{script} {args:?}: {}", output_text(&out));
}

/// Runs a hack/ script when dropped (restores the shared federation even after a failed assertion).
pub fn hack_later(script: &'static str, args: &'static [&'static str]) -> impl Drop {
    struct Later(&'static str, &'static [&'static str]);
    impl Drop for Later {
        fn drop(&mut self) {
            // No assertion here: a panic while unwinding would abort the whole test binary.
            let _ = script_command(&format!("hack/{}", self.0), self.1).status();
        }
    }
    Later(script, args)
}

/// `kubectl --context earth -n kube-federation-system ARGS`: the federation's own objects on the host.
pub fn kubectl_federation_ns(args: &[&str]) -> Output {
    kubectl_on_earth(Some("kube-federation-system"), args)
}

/// `kubectl --context earth [-n NAMESPACE] ARGS`.
pub fn kubectl_on_earth(namespace: Option<&str>, args: &[&str]) -> Output {
    let mut all = vec!["--context", "earth"];
    if let Some(ns) = namespace {
        all.extend(["-n", ns]);
    }
    all.extend_from_slice(args);
    kubectl(&all)
}

/// `kubectl --context earth -n NS apply -f -` of `manifest`, with `extra` flags appended.
pub fn apply_on_earth(ns: &str, manifest: &str, extra: &[&str]) -> Output {
    let mut args = vec!["--context", "earth", "-n", ns, "apply", "-f", "-"];
    args.extend_from_slice(extra);
    kubectl_with_stdin(&args, Some(manifest))
}

/// The holder of the controllers' Lease (`kubectl-fed-controllers` in the federation
/// namespace): a pod's name in the cluster form, `hostname-pid` of the local process.
pub async fn lease_holder(bed: &Bed) -> Option<String> {
    use k8s_openapi::api::coordination::v1::Lease;
    let api: Api<Lease> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    api.get_opt("kubectl-fed-controllers").await.ok()??.spec?.holder_identity
}

/// Names of the host component's pods in earth that are not being deleted.
pub async fn webhook_pods(bed: &Bed) -> Vec<String> {
    use k8s_openapi::api::core::v1::Pod;
    let pods: Api<Pod> = Api::namespaced(bed.earth.clone(), "kube-federation-system");
    let list = pods.list(&kube::api::ListParams::default().labels("app.kubernetes.io/component=webhook")).await;
    let items = list.map(|l| l.items).unwrap_or_default();
    items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).filter_map(|p| p.metadata.name).collect()
}

/// `kubectl --context earth -n NS patch RESOURCE NAME --type=merge -p PATCH`.
pub fn merge_patch_on_earth(ns: &str, resource: &str, name: &str, patch: &str) -> Output {
    kubectl(&["--context", "earth", "-n", ns, "patch", resource, name, "--type=merge", "-p", patch])
}

/// Asserts that `out` is an admission denial mentioning every one of `needles`.
pub fn assert_denied(out: &Output, needles: &[&str]) {
    let text = output_text(out);
    assert!(!out.status.success(), "expected a denial, got success: {text}");
    assert!(text.contains("denied the request"), "not an admission denial: {text}");
    for needle in needles {
        assert!(text.contains(needle), "denial does not mention {needle:?}: {text}");
    }
}

/// The port fed-webhook listens on: `FED_TESTBED_PORT_BASE` (default 16443) + 47, as in
/// `hack/federation-up.sh`.
pub fn webhook_port() -> u16 {
    let base: u16 = std::env::var("FED_TESTBED_PORT_BASE").ok().and_then(|p| p.parse().ok()).unwrap_or(16443);
    base + 47
}

/// The clusters that have a node: those of `FED_TESTBED_NODES` (default all three, earth with a
/// second node `earth-2`), as in `hack/lib-node.sh`. A cluster's first node is `<cluster>-node`.
pub fn node_clusters() -> Vec<String> {
    let keys = std::env::var("FED_TESTBED_NODES").unwrap_or_else(|_| "earth earth-2 vulcan kronos".into());
    let mut clusters: Vec<String> = Vec::new();
    for key in keys.split_whitespace() {
        let cluster = key.strip_suffix("-2").unwrap_or(key).to_string();
        if !clusters.contains(&cluster) {
            clusters.push(cluster);
        }
    }
    clusters
}

/// The image refs that `hack/images.sh` built and imported into every node, from
/// `.local/images.env`.
#[derive(Debug, Clone)]
pub struct Images {
    /// `FED_PAUSE_IMAGE`: the pod sandbox image (containerd's `sandbox_image`).
    pub pause: String,
    /// `FED_DEMO_IMAGE`: the demo web server (`fed-demo-web`, HTTP on port 80; `--version`).
    pub demo: String,
    /// `FED_WEBHOOK_IMAGE`: fed-webhook, entrypoint and arguments as in `webhook/Dockerfile`.
    pub webhook: String,
}

/// Reads `.local/images.env`; `None` when the bed has no nodes (the file is not written).
pub fn images() -> Option<Images> {
    let text = std::fs::read_to_string(repo_root().join(".local/images.env")).ok()?;
    let get = |key: &str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
    };
    Some(Images { pause: get("FED_PAUSE_IMAGE")?, demo: get("FED_DEMO_IMAGE")?, webhook: get("FED_WEBHOOK_IMAGE")? })
}

/// `.local/federation/`: fed-webhook's PKI (`pki/ca.crt`, `pki/tls.{crt,key}`) and log.
pub fn federation_dir() -> PathBuf {
    repo_root().join(".local/federation")
}

/// A ConfigMap manifest (`data: {k: v}`) carrying `annotations`.
pub fn annotated_config_map(name: &str, annotations: serde_json::Value) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "annotations": annotations}, "data": {"k": "v"}})
    .to_string()
}

/// The host component's form on the bed, as `hack/federation-up.sh` reads `FED_HOST_MODE`:
/// `true` for the default, in earth as users install it; `false` for the local process.
pub fn host_in_cluster() -> bool {
    std::env::var("FED_HOST_MODE").map_or(true, |m| m != "local")
}

/// Everything the host component has logged: the local process's log file, or the logs of
/// every current container of its pods in earth.
pub fn webhook_log() -> String {
    if !host_in_cluster() {
        return std::fs::read_to_string(federation_dir().join("fed-webhook.log")).expect("fed-webhook.log");
    }
    let out = kubectl_federation_ns(&[
        "logs",
        "-l",
        "app.kubernetes.io/component=webhook",
        "--tail=-1",
        "--prefix",
        "--max-log-requests=10",
    ]);
    succeeded(out)
}

/// `HOST:PORT` where the running webhook accepts TLS: the local process on 127.0.0.1, or (in
/// the cluster, on the node's network) one of its pods' addresses.
pub fn webhook_address() -> String {
    if !host_in_cluster() {
        return format!("127.0.0.1:{}", webhook_port());
    }
    let out = kubectl_federation_ns(&[
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/component=webhook",
        "--field-selector=status.phase=Running",
        "-o",
        "jsonpath={.items[0].status.podIP}",
    ]);
    let ip = succeeded(out);
    assert!(!ip.trim().is_empty(), "no running webhook pod");
    format!("{}:{}", ip.trim(), webhook_port())
}

/// A file holding the CA that the running webhook's serving certificate chains to: the local
/// form's `pki/ca.crt`, or the in-cluster TLS Secret's `ca.crt` copied to a temporary file.
pub fn webhook_ca_file() -> PathBuf {
    if !host_in_cluster() {
        return federation_dir().join("pki/ca.crt");
    }
    let out = kubectl_federation_ns(&["get", "secret", "kubectl-fed-webhook-tls", "-o", "jsonpath={.data.ca\\.crt}"]);
    let encoded = succeeded(out);
    let decoded = std::process::Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(encoded.as_bytes())?;
            child.wait_with_output()
        })
        .expect("base64 runs");
    let path = std::env::temp_dir().join(unique_name("webhook-ca"));
    std::fs::write(&path, decoded.stdout).expect("CA file written");
    path
}
