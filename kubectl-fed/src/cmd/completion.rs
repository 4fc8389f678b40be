//! `kubectl fed completion bash|zsh|fish`: a completion script for the `kubectl-fed` binary.

use anyhow::Result;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a shell completion script
///
/// Load it with e.g. `source <(kubectl-fed completion bash)`; it completes the `kubectl-fed`
/// binary (kubectl ≥ 1.26 can also complete `kubectl fed` through a `kubectl_complete-fed` shim).
#[derive(Args, Debug)]
pub struct CompletionOptions {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(opts: &CompletionOptions) -> Result<()> {
    let mut cmd = crate::Cli::command();
    cmd.set_bin_name("kubectl-fed");
    clap_complete::generate(opts.shell, &mut cmd, "kubectl-fed", &mut std::io::stdout());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_generate_for_each_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = crate::Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kubectl-fed", &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("unjoin") && text.contains("federation-namespace"), "{shell}");
        }
    }
}
