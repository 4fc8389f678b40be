//! `kubectl_complete-fed`: kubectl's completion hook for the `fed` plugin.
//!
//! kubectl (≥ 1.26) completes `kubectl fed …` by running the executable `kubectl_complete-fed`
//! found on PATH with the words typed after `fed`. This forwards them to
//! `kubectl-fed __complete`, which answers in cobra's completion protocol (see kubectl-fed's
//! `cmd::completion`). It runs the `kubectl-fed` installed beside it, else the one on PATH.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// The plugin binary next to this executable, when there is one.
fn beside_me() -> Option<PathBuf> {
    let dir = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let plugin = dir.join(format!("kubectl-fed{}", std::env::consts::EXE_SUFFIX));
    plugin.is_file().then_some(plugin)
}

fn main() -> ExitCode {
    let plugin = beside_me().unwrap_or_else(|| PathBuf::from("kubectl-fed"));
    let mut command = Command::new(&plugin);
    command.arg("__complete").args(std::env::args_os().skip(1));
    #[cfg(unix)]
    let error = std::os::unix::process::CommandExt::exec(&mut command);
    #[cfg(not(unix))]
    let error = match command.status() {
        Ok(status) => return ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => e,
    };
    eprintln!("kubectl_complete-fed: cannot run {}: {error}", plugin.display());
    ExitCode::FAILURE
}
