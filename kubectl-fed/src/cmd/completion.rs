//! Shell completion: `kubectl fed completion bash|zsh|fish` prints a script for the
//! `kubectl-fed` binary, and the hidden `kubectl-fed __complete ARGS… WORD` answers kubectl's
//! own completion of `kubectl fed …`.
//!
//! kubectl (≥ 1.26) completes a plugin's arguments by running an executable named
//! `kubectl_complete-fed` found on PATH with the words typed after `kubectl fed`, the last one
//! being the word to complete, and reading cobra's `__complete` protocol: one candidate per line
//! (`value<TAB>description`), then `:<directive>`. `kubectl_complete-fed`
//! (src/bin/kubectl_complete-fed.rs, installed beside `kubectl-fed`) forwards to
//! `kubectl-fed __complete`, which answers from clap_complete's completion engine over the same
//! clap definition as the real parser, so completions never drift from the flags.

use std::ffi::OsString;
use std::io::Write;

use anyhow::Result;
use clap::Args;
use clap_complete::Shell;

/// Print a shell completion script
///
/// Load it with e.g. `source <(kubectl-fed completion bash)`; it completes the `kubectl-fed`
/// binary. `kubectl fed <TAB>` is completed by kubectl itself through the `kubectl_complete-fed`
/// executable shipped beside kubectl-fed (keep it on PATH).
#[derive(Args, Debug)]
pub struct CompletionOptions {
    /// Shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the script for `cli`, the root command (`Cli::command()`, passed in so this module
/// does not reach back into the parser that holds it).
pub fn run(opts: &CompletionOptions, mut cmd: clap::Command) -> Result<()> {
    cmd.set_bin_name("kubectl-fed");
    clap_complete::generate(opts.shell, &mut cmd, "kubectl-fed", &mut std::io::stdout());
    Ok(())
}

/// The hidden first argument that asks `kubectl-fed` for completions (cobra's name for it).
pub const COMPLETE_ARG: &str = "__complete";

/// Cobra's `ShellCompDirectiveNoFileComp`: offer only the listed candidates, never file names
/// (path arguments are listed by the engine itself).
const NO_FILE_COMPLETION: u8 = 4;

/// Completions of the last of `words` (the words after `kubectl fed`; the last may be empty),
/// in cobra's `__complete` protocol, from `cmd`, the root command.
pub fn complete(words: &[OsString], mut cmd: clap::Command) -> Result<String> {
    let mut args = vec![OsString::from("kubectl-fed")];
    args.extend_from_slice(words);
    if words.is_empty() {
        args.push(OsString::new());
    }
    let index = args.len() - 1;
    // Like cobra, flags are offered once a `-` is typed, not for an empty word.
    let flags_wanted = !args[index].is_empty();
    let current_dir = std::env::current_dir().ok();
    let candidates = clap_complete::engine::complete(&mut cmd, args, index, current_dir.as_deref())?;
    let shown = candidates
        .iter()
        .filter(|c| !c.is_hide_set() && (flags_wanted || !c.get_value().to_string_lossy().starts_with('-')));
    let mut out = String::new();
    for candidate in shown {
        out.push_str(&candidate.get_value().to_string_lossy());
        let help = candidate.get_help().map(|h| h.to_string()).unwrap_or_default();
        if let Some(line) = help.lines().next().filter(|l| !l.is_empty()) {
            out.push('\t');
            out.push_str(&line.replace('\t', " "));
        }
        out.push('\n');
    }
    out.push_str(&format!(":{NO_FILE_COMPLETION}\n"));
    Ok(out)
}

/// `kubectl-fed __complete WORDS…`: prints [`complete`]'s answer.
pub fn run_complete(words: &[OsString], cmd: clap::Command) -> Result<()> {
    std::io::stdout().write_all(complete(words, cmd)?.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn scripts_generate_for_each_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = crate::cli::Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kubectl-fed", &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("unjoin") && text.contains("federation-namespace"), "{shell}");
        }
    }

    fn values(words: &[&str]) -> Vec<String> {
        let words: Vec<OsString> = words.iter().map(OsString::from).collect();
        let out = complete(&words, crate::cli::Cli::command()).unwrap();
        assert!(out.ends_with(":4\n"), "cobra directive last: {out}");
        out.lines().filter(|l| !l.starts_with(':')).map(|l| l.split('\t').next().unwrap().to_string()).collect()
    }

    #[test]
    fn subcommands_flags_and_values_complete_in_cobra_format() {
        assert_eq!(values(&["pl"]), ["place"]);
        let all = values(&[""]);
        for sub in ["install", "join", "unjoin", "enable", "disable", "federate", "place", "status", "completion"] {
            assert!(all.iter().any(|v| v == sub), "{sub} in {all:?}");
        }
        assert!(values(&["place", "deployment/web", "--clu"]).contains(&"--clusters".to_string()));
        assert!(values(&["unjoin", "vulcan", "--"]).contains(&"--keep-resources".to_string()));
        assert_eq!(values(&["completion", "z"]), ["zsh"]);
        assert!(values(&[]).contains(&"place".to_string()), "no words: complete an empty one");
        assert!(!all.iter().any(|v| v.starts_with('-')), "flags only once a dash is typed: {all:?}");
        assert!(values(&["place", "--con"]).contains(&"--context".to_string()), "kubectl's name for the host context");
    }

    #[test]
    fn candidates_carry_their_help_after_a_tab() {
        let out = complete(&[OsString::from("unj")], crate::cli::Cli::command()).unwrap();
        let line = out.lines().next().unwrap();
        let (value, help) = line.split_once('\t').expect("a description");
        assert_eq!(value, "unjoin");
        assert!(!help.is_empty() && !help.contains('\n'));
    }
}
