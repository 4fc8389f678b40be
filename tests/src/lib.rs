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

/// The clusters of the test bed; `earth` is the host.
pub const CLUSTERS: [&str; 3] = ["earth", "vulcan", "kronos"];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
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

async fn run_script(script: &str) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("bash")
        .arg(repo_root().join(script))
        .current_dir(repo_root())
        .output()
        .await
        .with_context(|| format!("running {script}"))?;
    if !out.status.success() {
        bail!("{script} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

/// A client for one context of `.local/kubeconfig`.
pub async fn client_for(context: &str) -> anyhow::Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig_path())?;
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?;
    Ok(Client::try_from(config)?)
}

/// Polls `condition` until it returns `Some`, failing with `what` after `deadline`.
pub async fn wait_until<T, F, Fut>(deadline: Duration, what: &str, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
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
