//! Runs only the federation controllers (no admission webhook) against a kubeconfig context —
//! for development on the local test bed:
//!
//! ```sh
//! cargo run -p fed-webhook --example controllers -- --kubeconfig .local/kubeconfig --context earth
//! ```

#[path = "../src/controllers/mod.rs"]
#[allow(dead_code)]
mod controllers;

use anyhow::Context;
use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Parser)]
struct Args {
    /// Kubeconfig of the host cluster (default: $KUBECONFIG / ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<std::path::PathBuf>,
    /// Context of the host cluster.
    #[arg(long)]
    context: Option<String>,
    /// Federation namespace.
    #[arg(long, default_value = fed_core::keys::FEDERATION_NAMESPACE)]
    federation_namespace: String,
    /// Member clusters written concurrently per object.
    #[arg(long, default_value_t = 8)]
    member_concurrency: usize,
    /// Run without the Lease.
    #[arg(long)]
    no_leader_election: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube_lease_manager=warn".into()),
        )
        .init();
    let args = Args::parse();
    let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options).await?
        }
        None => kube::Config::from_kubeconfig(&options).await?,
    };
    let client = kube::Client::try_from(config)?;
    let opts = controllers::ControllerOptions {
        federation_namespace: args.federation_namespace,
        member_concurrency: args.member_concurrency,
        leader_election: !args.no_leader_election,
        ..Default::default()
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    controllers::run_until(client, opts, shutdown).await
}
