//! kubectl-fed: the `kubectl fed` plugin.
//!
//! Layout (after KubeFed's kubefedctl): [`cli`] holds the clap root; this file the dispatch and
//! the one-line error printing; [`kubeconfig`] loads and merges kubeconfig files exactly like
//! kubectl; [`context`] turns the global flags into clients; [`discovery`] resolves resource
//! names (`deploy`, `deployments.apps`, …); [`output`] renders kubectl-like tables and YAML/JSON;
//! [`apply`] performs (or, under `--dry-run`, only prints) every change; one module per
//! subcommand lives under [`cmd`], each shaped options → validate → run.
//!
//! `--help`, `completion`, `__complete` (kubectl's plugin completion, see
//! [`cmd::completion`]) and client-only `version` never build a tokio runtime nor read a
//! kubeconfig, so they stay fast.

mod apply;
mod b64;
mod certs;
mod cli;
mod cmd;
mod context;
mod discovery;
mod errors;
mod fedapi;
mod follow;
mod host_manifests;
mod kubeconfig;
mod member_check;
mod member_rbac;
mod orphans;
mod output;
mod replica_flags;
mod type_configs;
mod verbose;
mod waiting;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};

/// Die quietly on a closed pipe (`kubectl fed status -A | head`), like kubectl, instead of
/// panicking in `println!`.
#[cfg(unix)]
fn restore_sigpipe() {
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13; // the same on Linux and the BSDs/macOS
    const SIG_DFL: usize = 0;
    // SAFETY: resetting a signal disposition to its default before any thread starts.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}

fn main() -> ExitCode {
    restore_sigpipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // kubectl's plugin completion (through kubectl_complete-fed), before clap parses anything.
    let result = match args.get(1) {
        Some(first) if first == cmd::completion::COMPLETE_ARG => {
            cmd::completion::run_complete(&args[2..], Cli::command())
        }
        _ => run(Cli::parse_from(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", errors::one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli { global, command } = cli;
    verbose::set(global.verbosity);
    // Commands that need no cluster run without a runtime.
    match &command {
        Command::Completion(opts) => return cmd::completion::run(opts, Cli::command()),
        Command::Version(opts) if opts.client => return cmd::version::run_client_only(&global),
        _ => {}
    }
    global.validate()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ctx = match context::Ctx::new(global.clone()) {
        Ok(ctx) => ctx,
        Err(err) if matches!(command, Command::Version(_)) => {
            cmd::version::run_client_only(&global)?;
            output::warn(format!("no host cluster: {}", errors::one_line(&err)));
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    runtime.block_on(async move {
        match command {
            Command::Install(o) => cmd::install::run(&ctx, o).await,
            Command::Join(o) => cmd::join::run(&ctx, o).await,
            Command::Unjoin(o) => cmd::unjoin::run(&ctx, o).await,
            Command::Clusters(o) => cmd::clusters::run(&ctx, o).await,
            Command::Enable(o) => cmd::enable::run(&ctx, o).await,
            Command::Disable(o) => cmd::disable::run(&ctx, o).await,
            Command::Federate(o) => cmd::federate::run(&ctx, o).await,
            Command::Follow(o) => cmd::follow::run(&ctx, o).await,
            Command::Place(o) => cmd::place::run(&ctx, o).await,
            Command::Unplace(o) => cmd::unplace::run(&ctx, o).await,
            Command::Status(o) => cmd::status::run(&ctx, o).await,
            Command::Rollout(o) => cmd::rollout::run(&ctx, o).await,
            Command::Version(o) => cmd::version::run(&ctx, o).await,
            Command::Completion(_) => unreachable!("handled before the runtime starts"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-fed",
            "place",
            "deployment/web",
            "--clusters",
            "vulcan,kronos",
            "--context",
            "earth",
            "-n",
            "demo",
            "--dry-run",
            "-o",
            "yaml",
        ])
        .unwrap();
        assert_eq!(cli.global.host_context.as_deref(), Some("earth"));
        assert_eq!(cli.global.namespace.as_deref(), Some("demo"));
        assert_eq!(cli.global.dry_run, context::DryRun::Client);
        assert_eq!(cli.global.output, Some(output::OutputFormat::Yaml));
    }

    #[test]
    fn host_cluster_context_is_the_long_name() {
        let cli = Cli::try_parse_from(["kubectl-fed", "clusters", "--host-cluster-context", "earth"]).unwrap();
        assert_eq!(cli.global.host_context.as_deref(), Some("earth"));
        assert_eq!(cli.global.federation_namespace, "kube-federation-system");
    }

    /// plugins/krew/fed.yaml renders (as krew-release-bot does) into a valid plugin manifest.
    #[test]
    fn krew_manifest_template_renders() {
        let template = include_str!("../../plugins/krew/fed.yaml");
        let mut rendered = String::new();
        for line in template.lines() {
            let line = line.replace("{{ .TagName }}", "v0.1.0");
            match line.trim_start().strip_prefix("{{addURIAndSha \"") {
                Some(rest) => {
                    let indent = &line[..line.len() - line.trim_start().len()];
                    let url = rest.split('"').next().unwrap();
                    rendered.push_str(&format!("{indent}uri: {url}\n{indent}sha256: {}\n", "0".repeat(64)));
                }
                None => {
                    rendered.push_str(&line);
                    rendered.push('\n');
                }
            }
        }
        let doc: serde_json::Value = serde_yaml::from_str(&rendered).unwrap();
        assert_eq!(doc["kind"], "Plugin");
        assert_eq!(doc["metadata"]["name"], "fed", "kubectl fed needs the plugin name fed");
        assert_eq!(doc["spec"]["version"], "v0.1.0");
        let platforms = doc["spec"]["platforms"].as_array().unwrap();
        assert!(platforms.len() >= 4);
        for p in platforms {
            let bin = p["bin"].as_str().unwrap();
            assert!(bin.starts_with("kubectl-fed"), "{p}");
            // kubectl's completion hook ships beside the plugin.
            let hook = bin.replace("kubectl-fed", "kubectl_complete-fed");
            assert!(p["files"].as_array().unwrap().iter().any(|f| f["from"] == hook.as_str()), "{p}");
            assert!(p["uri"].as_str().unwrap().contains("v0.1.0"), "{p}");
            assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
        }
    }

    /// kubefedctl's klog flag, as the seed types it (`--v=2`), and its short forms, after any
    /// subcommand.
    #[test]
    fn verbosity_is_global_in_every_klog_spelling() {
        for args in [
            &["unjoin", "vulcan", "--host-cluster-context", "earth", "--v=2"][..],
            &["clusters", "-v", "2"],
            &["enable", "pods", "-v=2"],
            &["federate", "namespace", "demo", "--contents", "--enable-type", "--v", "2"],
            &["join", "vulcan", "--cluster-context", "vulcan", "--host-cluster-context", "earth", "-v2"],
        ] {
            let cli = Cli::try_parse_from(std::iter::once("kubectl-fed").chain(args.iter().copied()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert_eq!(cli.global.verbosity, 2, "{args:?}");
        }
        assert_eq!(Cli::try_parse_from(["kubectl-fed", "clusters"]).unwrap().global.verbosity, 0);
        assert!(Cli::try_parse_from(["kubectl-fed", "clusters", "--v=high"]).is_err());
    }

    #[test]
    fn dry_run_takes_an_optional_value() {
        let cli = Cli::try_parse_from(["kubectl-fed", "install", "--dry-run=server"]).unwrap();
        assert_eq!(cli.global.dry_run, context::DryRun::Server);
        let cli = Cli::try_parse_from(["kubectl-fed", "install"]).unwrap();
        assert_eq!(cli.global.dry_run, context::DryRun::None);
    }
}
