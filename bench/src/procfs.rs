//! The measured process from /proc: CPU time and memory of fed-webhook.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

/// VmRSS, VmHWM and CPU ticks of a process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub rss_kib: u64,
    pub hwm_kib: u64,
    pub cpu_ticks: u64,
}

/// A sample of `pid` from /proc, if it runs.
pub fn proc_sample(pid: u32) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ProcSample { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:"), cpu_ticks: ticks })
}

/// CPU seconds, mean cores and memory of `pid` between two samples.
pub fn proc_report(before: Option<ProcSample>, after: Option<ProcSample>, wall: Duration, max_rss_kib: u64) -> Value {
    match (before, after) {
        (Some(b), Some(a)) => {
            let cpu = (a.cpu_ticks.saturating_sub(b.cpu_ticks)) as f64 / 100.0; // CLK_TCK = 100 on Linux
            json!({
                "cpu_seconds": round(cpu, 2),
                "cpu_cores_mean": round(cpu / wall.as_secs_f64().max(1e-9), 3),
                "rss_mib_before": mib(b.rss_kib), "rss_mib_after": mib(a.rss_kib),
                "rss_mib_max_sampled": mib(max_rss_kib.max(a.rss_kib)), "hwm_mib": mib(a.hwm_kib),
            })
        }
        _ => Value::Null,
    }
}

/// Samples `pid` every 200 ms; the returned handle yields the largest VmRSS seen.
pub fn rss_sampler(pid: Option<u32>) -> (Arc<std::sync::atomic::AtomicU64>, tokio::task::JoinHandle<()>) {
    let max = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let m = max.clone();
    let h = tokio::spawn(async move {
        let Some(pid) = pid else { return };
        loop {
            if let Some(s) = proc_sample(pid) {
                m.fetch_max(s.rss_kib, std::sync::atomic::Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (max, h)
}

/// Seconds since `pid` started (field 22 of /proc/<pid>/stat, in clock ticks since boot).
pub fn proc_age_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let start_ticks: f64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
    Some(round(uptime - start_ticks / 100.0, 0))
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> f64 {
    round(kib as f64 / 1024.0, 1)
}

/// `x` rounded to `digits` decimals.
pub fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}
