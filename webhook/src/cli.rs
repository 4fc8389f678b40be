//! Command line of `fed-webhook`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fed_core::keys::FEDERATION_NAMESPACE;

use crate::logging::LogFormat;

/// kubectl-fed host component: admission webhook (and federation controllers).
#[derive(Debug, Parser)]
#[command(name = "fed-webhook", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /mutate, /validate, /healthz, /readyz and /metrics over HTTPS and run the controllers.
    Serve(ServeArgs),
    /// Generate a CA and a serving certificate for the webhook (reuses valid existing files).
    Certs(CertsArgs),
    /// Print the Mutating and Validating webhook configurations.
    Manifests(ManifestsArgs),
}

/// `fed-webhook serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// PEM certificate chain served to the apiserver; re-read when the file changes.
    #[arg(long, env = "FED_WEBHOOK_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// PEM private key of the serving certificate; re-read when the file changes.
    #[arg(long, env = "FED_WEBHOOK_TLS_KEY")]
    pub tls_key: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "FED_WEBHOOK_LISTEN", default_value = "0.0.0.0:9443")]
    pub listen: SocketAddr,
    /// Kubeconfig of the host cluster (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context of the host cluster (default: the current context).
    #[arg(long, alias = "host-cluster-context")]
    pub context: Option<String>,
    /// Namespace of KubeFedClusters, FederatedTypeConfigs and their Secrets.
    #[arg(long, env = "FED_FEDERATION_NAMESPACE", default_value = FEDERATION_NAMESPACE)]
    pub federation_namespace: String,
    /// Log output format.
    #[arg(long, env = "FED_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve admission only; do not run the controllers.
    #[arg(long)]
    pub no_controllers: bool,
    /// Seconds to keep serving after SIGTERM before closing the listener, so the apiserver
    /// stops choosing this pod before it goes (endpoint removal takes a moment to reach it).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub shutdown_delay: u64,
    /// Largest accepted request body in bytes (larger bodies get HTTP 400).
    #[arg(long, default_value_t = crate::admission::server::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
}

/// `fed-webhook certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory for ca.crt, ca.key, tls.crt and tls.key (created if missing).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// IP address SAN of the serving certificate (repeatable; default 127.0.0.1 when no --dns).
    #[arg(long = "ip")]
    pub ips: Vec<IpAddr>,
    /// DNS name SAN of the serving certificate (repeatable).
    #[arg(long = "dns")]
    pub dns_names: Vec<String>,
    /// Validity of the serving certificate in days.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Generate new files even when the existing ones are valid.
    #[arg(long)]
    pub force: bool,
}

/// `fed-webhook manifests`.
#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// Local form: base URL the apiserver calls (e.g. https://127.0.0.1:9443); the endpoint
    /// paths are appended. Without it, the in-cluster form pointing at the Service is printed.
    #[arg(long)]
    pub url: Option<String>,
    /// PEM CA bundle the apiserver trusts for the webhook (e.g. the `certs` ca.crt).
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Namespace of the webhook Service (in-cluster form).
    #[arg(long, default_value = FEDERATION_NAMESPACE)]
    pub federation_namespace: String,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
}

/// `-o` of `manifests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Two YAML documents.
    Yaml,
    /// A `v1` List.
    Json,
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
    fn serve_parses_the_documented_flags() {
        let cli = Cli::try_parse_from([
            "fed-webhook",
            "serve",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
            "--listen",
            "127.0.0.1:9443",
            "--context",
            "earth",
            "--log-format",
            "json",
            "--no-controllers",
        ])
        .unwrap();
        let Command::Serve(a) = cli.command else { panic!("not serve") };
        assert_eq!(a.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(a.context.as_deref(), Some("earth"));
        assert_eq!(a.log_format, LogFormat::Json);
        assert_eq!(a.federation_namespace, FEDERATION_NAMESPACE);
        assert!(a.no_controllers);
    }

    #[test]
    fn certs_takes_repeated_sans() {
        let cli = Cli::try_parse_from([
            "fed-webhook",
            "certs",
            "--out-dir",
            "d",
            "--ip",
            "127.0.0.1",
            "--ip",
            "::1",
            "--dns",
            "a.example",
        ])
        .unwrap();
        let Command::Certs(a) = cli.command else { panic!("not certs") };
        assert_eq!(a.ips.len(), 2);
        assert_eq!(a.dns_names, vec!["a.example"]);
        assert!(!a.force);
        assert!(Cli::try_parse_from(["fed-webhook", "certs", "--out-dir", "d", "--ip", "nope"]).is_err());
    }
}
