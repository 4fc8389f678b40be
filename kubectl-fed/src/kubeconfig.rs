//! Kubeconfig loading, the way kubectl does it.
//!
//! Precedence: `--kubeconfig FILE` (only that file); else every file listed in `KUBECONFIG`
//! (path-list separated, missing files skipped, merged first-wins per kubectl's rules); else
//! `~/.kube/config`. Relative certificate paths are resolved against the file that names them.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use kube::config::{Kubeconfig, NamedCluster, NamedContext};

/// The merged kubeconfig and the files it was read from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Kubeconfig,
    pub sources: Vec<PathBuf>,
}

/// Load the kubeconfig as kubectl would.
pub fn load(explicit: Option<&Path>) -> Result<Loaded> {
    if let Some(path) = explicit {
        let config = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
        return Ok(Loaded { config, sources: vec![path.to_path_buf()] });
    }
    let env_paths: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|v| std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()).collect())
        .unwrap_or_default();
    let candidates = if env_paths.is_empty() { default_path().into_iter().collect() } else { env_paths };
    let mut merged: Option<Kubeconfig> = None;
    let mut sources = Vec::new();
    for path in candidates {
        // kubectl silently skips files of the precedence list that do not exist.
        if !path.exists() {
            continue;
        }
        let next = Kubeconfig::read_from(&path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).with_context(|| format!("merging kubeconfig {}", path.display()))?,
        });
        sources.push(path);
    }
    match merged {
        Some(config) => Ok(Loaded { config, sources }),
        None => bail!("no kubeconfig found: set KUBECONFIG or pass --kubeconfig"),
    }
}

fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// The connection details of one context's cluster, as a KubeFedCluster needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEndpoint {
    /// `https://host:port`.
    pub server: String,
    /// PEM bytes of the CA, if the kubeconfig names one.
    pub ca_pem: Option<Vec<u8>>,
    /// `insecure-skip-tls-verify: true`.
    pub insecure: bool,
}

impl Loaded {
    /// The context to use: the flag, else `current-context`. Errors name the known contexts.
    pub fn context_name(&self, flag: Option<&str>) -> Result<String> {
        let name = match flag {
            Some(n) => n.to_string(),
            None => self
                .config
                .current_context
                .clone()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| anyhow!("the kubeconfig has no current-context; pass --context"))?,
        };
        self.context(&name)?;
        Ok(name)
    }

    /// The named context, or an error listing the contexts there are.
    pub fn context(&self, name: &str) -> Result<&NamedContext> {
        self.config.contexts.iter().find(|c| c.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.config.contexts.iter().map(|c| c.name.as_str()).collect();
            let files: Vec<String> = self.sources.iter().map(|p| p.display().to_string()).collect();
            anyhow!("context {name:?} not found in kubeconfig {} (contexts: {})", files.join(":"), list_or_none(&known))
        })
    }

    /// The namespace a context defaults to (`default` when it names none).
    pub fn context_namespace(&self, name: &str) -> Option<String> {
        self.context(name).ok()?.context.as_ref()?.namespace.clone().filter(|n| !n.is_empty())
    }

    fn cluster_of(&self, context: &str) -> Result<&NamedCluster> {
        let ctx = self.context(context)?;
        let cluster_name = ctx
            .context
            .as_ref()
            .map(|c| c.cluster.as_str())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| anyhow!("context {context:?} names no cluster"))?;
        self.config
            .clusters
            .iter()
            .find(|c| c.name == cluster_name)
            .ok_or_else(|| anyhow!("cluster {cluster_name:?} of context {context:?} not found in the kubeconfig"))
    }

    /// Server URL and CA of a context's cluster.
    pub fn endpoint(&self, context: &str) -> Result<ClusterEndpoint> {
        let named = self.cluster_of(context)?;
        let cluster = named.cluster.as_ref().ok_or_else(|| anyhow!("cluster {:?} has no settings", named.name))?;
        let server = cluster
            .server
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("cluster {:?} (context {context:?}) has no server URL", named.name))?;
        let ca_pem = if let Some(data) = cluster.certificate_authority_data.as_deref().filter(|d| !d.is_empty()) {
            Some(crate::b64::decode(data).with_context(|| {
                format!("certificate-authority-data of cluster {:?} is not valid base64", named.name)
            })?)
        } else if let Some(file) = cluster.certificate_authority.as_deref().filter(|f| !f.is_empty()) {
            Some(std::fs::read(file).with_context(|| format!("reading certificate-authority {file}"))?)
        } else {
            None
        };
        Ok(ClusterEndpoint { server, ca_pem, insecure: cluster.insecure_skip_tls_verify.unwrap_or(false) })
    }

    /// The context that reaches a member cluster: one named like the cluster, else one whose
    /// server URL is the cluster's API endpoint.
    pub fn context_for_cluster(&self, cluster_name: &str, api_endpoint: &str) -> Option<String> {
        if self.context(cluster_name).is_ok() {
            return Some(cluster_name.to_string());
        }
        let want = normalize_server(api_endpoint);
        self.config
            .contexts
            .iter()
            .find(|c| self.endpoint(&c.name).is_ok_and(|e| normalize_server(&e.server) == want))
            .map(|c| c.name.clone())
    }
}

/// Server URLs compare equal regardless of a trailing slash or letter case of the host.
pub fn normalize_server(server: &str) -> String {
    server.trim_end_matches('/').to_ascii_lowercase()
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() { "none".to_string() } else { items.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"
apiVersion: v1
kind: Config
current-context: earth
clusters:
- name: earth
  cluster:
    server: https://127.0.0.1:16443
    certificate-authority: ca-earth.crt
- name: vulcan
  cluster:
    server: https://127.0.0.1:16444/
    certificate-authority-data: aGVsbG8=
contexts:
- name: earth
  context: {cluster: earth, user: earth, namespace: demo}
- name: vulcan
  context: {cluster: vulcan, user: vulcan}
users:
- name: earth
  user: {token: abc}
- name: vulcan
  user: {token: def}
"#;
    const B: &str = r#"
apiVersion: v1
kind: Config
current-context: kronos
clusters:
- name: kronos
  cluster: {server: "https://127.0.0.1:16445", insecure-skip-tls-verify: true}
- name: earth
  cluster: {server: "https://other:1"}
contexts:
- name: kronos
  context: {cluster: kronos, user: kronos}
users:
- name: kronos
  user: {token: ghi}
"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn kubeconfig_env_merges_first_wins_and_skips_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", A);
        let b = write(dir.path(), "b", B);
        std::fs::write(dir.path().join("ca-earth.crt"), "PEM").unwrap();
        let missing = dir.path().join("missing");
        let joined = std::env::join_paths([&missing, &a, &b]).unwrap();
        // SAFETY: tests in this module are the only ones touching KUBECONFIG.
        unsafe { std::env::set_var("KUBECONFIG", &joined) };
        let loaded = load(None).unwrap();
        unsafe { std::env::remove_var("KUBECONFIG") };
        assert_eq!(loaded.sources, vec![a.clone(), b.clone()]);
        assert_eq!(loaded.context_name(None).unwrap(), "earth");
        let names: Vec<&str> = loaded.config.contexts.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["earth", "vulcan", "kronos"]);
        // First file wins for the `earth` cluster.
        let earth = loaded.endpoint("earth").unwrap();
        assert_eq!(earth.server, "https://127.0.0.1:16443");
        assert_eq!(earth.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(loaded.endpoint("vulcan").unwrap().ca_pem.as_deref(), Some(&b"hello"[..]));
        assert!(loaded.endpoint("kronos").unwrap().insecure);
        assert_eq!(loaded.context_namespace("earth").as_deref(), Some("demo"));
        assert_eq!(loaded.context_namespace("vulcan"), None);
        let err = loaded.context_name(Some("mars")).unwrap_err().to_string();
        assert!(err.contains("earth, vulcan, kronos"), "{err}");
        // Contexts are found by name first, then by server URL.
        assert_eq!(loaded.context_for_cluster("vulcan", "x").as_deref(), Some("vulcan"));
        assert_eq!(loaded.context_for_cluster("v2", "https://127.0.0.1:16444").as_deref(), Some("vulcan"));
        assert_eq!(loaded.context_for_cluster("v3", "https://nowhere"), None);
        // --kubeconfig reads only that file.
        let only_b = load(Some(&b)).unwrap();
        assert_eq!(only_b.context_name(None).unwrap(), "kronos");
    }
}
