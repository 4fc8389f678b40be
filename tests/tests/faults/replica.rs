//! The host component as processes: the fed-webhook that `hack/federation-up.sh` started (its
//! PID file), an extra replica started here, and what their `/metrics` say about the controllers.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fed_e2e::{kubeconfig_path, plugin_dir, port_base, repo_root};

/// Its duration in seconds (same file).
pub const LEASE_SECONDS: u64 = 15;

fn federation_dir() -> PathBuf {
    repo_root().join(".local/federation")
}

/// Port of the fed-webhook started by `hack/federation-up.sh`.
pub fn bed_port() -> u16 {
    port_base() + 47
}

/// PID of the fed-webhook started by `hack/federation-up.sh`.
pub fn bed_pid() -> u32 {
    let path = federation_dir().join("fed-webhook.pid");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim().parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// True while `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != Some('Z'))
}

/// SIGKILL to `pid`, then waits until it is gone.
pub async fn kill_9(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill -9 {pid}");
    fed_e2e::wait_until(Duration::from_secs(10), "the killed process to exit", || async {
        (!alive(pid)).then_some(())
    })
    .await;
}

/// `GET https://127.0.0.1:<port><path>`, trusting the bed's webhook CA; `None` on any failure.
async fn get(port: u16, path: &str) -> Option<String> {
    let out = tokio::process::Command::new("curl")
        .args(["-sf", "--max-time", "3", "--cacert"])
        .arg(federation_dir().join("pki/ca.crt"))
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .await
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a process's `/metrics` say about its controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Controllers {
    /// `fed_controller_leader` is 1.
    pub leader: bool,
    /// Sum of `fed_controller_writes_total` over its targets.
    pub writes: u64,
}

/// Parses the controller series out of an OpenMetrics text.
pub fn parse_controllers(text: &str) -> Option<Controllers> {
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
    let leader = text.lines().find(|l| l.starts_with("fed_controller_leader ")).and_then(value)?;
    let writes = text.lines().filter(|l| l.starts_with("fed_controller_writes_total{")).filter_map(value).sum::<f64>();
    Some(Controllers { leader: leader == 1.0, writes: writes as u64 })
}

/// The controller metrics of the process serving on `port` (`None` while it does not answer).
pub async fn controllers(port: u16) -> Option<Controllers> {
    parse_controllers(&get(port, "/metrics").await?)
}

/// True when `holder` is the identity of process `pid`.
pub fn held_by(holder: Option<&str>, pid: u32) -> bool {
    holder.is_some_and(|h| h.ends_with(&format!("-{pid}")))
}

/// A second `fed-webhook serve` (admission and controllers) beside the bed's, on its own port;
/// killed by its PID when dropped.
pub struct Replica {
    child: Child,
    /// Its HTTPS port.
    pub port: u16,
}

impl Replica {
    /// Starts it on `port_base() + 48`, logging to `.local/federation/fed-webhook-replica.log`.
    pub async fn start() -> Replica {
        let port = port_base() + 48;
        let dir = federation_dir();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("fed-webhook-replica.log"))
            .expect("replica log");
        let child = Command::new(plugin_dir().join("fed-webhook"))
            .arg("serve")
            .arg("--tls-cert")
            .arg(dir.join("pki/tls.crt"))
            .arg("--tls-key")
            .arg(dir.join("pki/tls.key"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--context", "earth", "--kubeconfig"])
            .arg(kubeconfig_path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("fed-webhook starts");
        let replica = Replica { child, port };
        fed_e2e::wait_until(Duration::from_secs(60), "the replica's /readyz", || get(port, "/readyz")).await;
        replica
    }

    /// Its PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_series_are_read_from_metrics_text() {
        let text = "# HELP x\nfed_controller_leader 1\nfed_controller_writes_total{target=\"member\"} 40\n\
                    fed_controller_writes_total{target=\"host\"} 2\nfed_webhook_requests_total{a=\"b\"} 9\n# EOF\n";
        assert_eq!(parse_controllers(text), Some(Controllers { leader: true, writes: 42 }));
        let idle = "fed_controller_leader 0\n# EOF\n";
        assert_eq!(parse_controllers(idle), Some(Controllers { leader: false, writes: 0 }));
        assert_eq!(parse_controllers("# EOF\n"), None, "a process without the series is not mistaken for idle");
    }

    #[test]
    fn holder_identity_names_the_pid() {
        assert!(held_by(Some("box-1234"), 1234));
        assert!(!held_by(Some("box-11234x"), 1234));
        assert!(!held_by(Some("box-11234"), 234));
        assert!(!held_by(None, 1));
    }
}
