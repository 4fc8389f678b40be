//! fed-webhook: the kubectl-fed host component.
//!
//! `serve` runs the admission webhook (and the controllers); `certs` makes a CA and serving
//! certificate; `manifests` prints the webhook configurations (local or in-cluster form).

/// jemalloc rather than the system allocator: the controllers hold every federated object in
/// reflector stores, and glibc's per-thread arenas left the process at about 1.7× its live
/// heap (BENCHMARKS.md, controller memory).
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod admission;
mod cli;
mod controllers;
mod listing;
mod logging;
mod manifests;
mod metrics;
mod ready;
mod record;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;

use crate::admission::{cache, certs, server, tls};
use crate::cli::{CertsArgs, Cli, Command, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_blocking(args),
        Command::Certs(args) => run_certs(&args),
        Command::Manifests(args) => manifests::render(&args).map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn serve_blocking(args: ServeArgs) -> Result<()> {
    logging::init(args.log_format);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<()> {
    // One process-wide TLS provider for the kube client as well as the server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = tls::provider();
    let cert = tls::ReloadingCert::load(&args.tls_cert, &args.tls_key, provider.clone())?;
    let _watcher = tls::watch_files(&cert)?;
    let tls_config = tls::server_config(cert, provider)?;

    let client = kube_client(&args).await?;
    let caches = cache::start(client.clone(), &args.federation_namespace);
    let metrics = Arc::new(metrics::Metrics::new());
    let controller_metrics = metrics.controllers();
    let app = Arc::new(server::App::new(caches, metrics, args.max_body_bytes));
    let server = server::Server::bind(args.listen, tls_config, app).await?;
    tracing::info!(
        listen = %server.local_addr()?,
        federation_namespace = %args.federation_namespace,
        "serving admission on /mutate and /validate"
    );

    let delay = std::time::Duration::from_secs(args.shutdown_delay);
    let shutdown_signal = move || async move {
        shutdown_signal().await;
        if !delay.is_zero() {
            tracing::info!(delay_seconds = delay.as_secs(), "serving on until the shutdown delay has passed");
            tokio::time::sleep(delay).await;
        }
    };
    if args.no_controllers {
        tracing::info!("controllers disabled (--no-controllers)");
        server.run(shutdown_signal()).await?;
    } else {
        let opts = controllers::options::ControllerOptions {
            federation_namespace: args.federation_namespace.clone(),
            ..Default::default()
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let serve = server.run(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        let (served, ()) = tokio::join!(serve, run_controllers(client, opts, controller_metrics, stopped));
        served?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Runs the controllers until `stopped` turns true, restarting them after an error (for example
/// a federation namespace that does not exist yet, so the Lease cannot be taken).
async fn run_controllers(
    client: kube::Client,
    opts: controllers::options::ControllerOptions,
    metrics: metrics::ControllerMetrics,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    loop {
        match controllers::wiring::run_until(
            client.clone(),
            opts.clone(),
            metrics.clone(),
            until_stopped(stopped.clone()),
        )
        .await
        {
            Ok(()) => return,
            Err(e) => tracing::error!(error = %e, "controllers stopped; restarting in 5s"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = until_stopped(stopped.clone()) => return,
        }
    }
}

/// The host cluster client: `--kubeconfig`/`--context` when given, else the usual inference
/// ($KUBECONFIG or ~/.kube/config, then the in-cluster service account).
async fn kube_client(args: &ServeArgs) -> Result<kube::Client> {
    use kube::config::{Config, KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions { context: args.context.clone(), ..Default::default() };
    let config = match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options).await?,
        (None, None) => Config::infer().await?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

fn run_certs(args: &CertsArgs) -> Result<()> {
    let sans = certs::Sans { ips: args.ips.clone(), dns_names: args.dns_names.clone() }.or_loopback();
    let outcome = certs::ensure(&args.out_dir, &sans, args.days, args.force)?;
    let what = match outcome {
        certs::Issued::Reused => "kept the existing CA and serving certificate",
        certs::Issued::Reissued => "kept the existing CA and issued a new serving certificate",
        certs::Issued::Generated => "generated a new CA and serving certificate",
    };
    eprintln!("{what} in {} (ca.crt, ca.key, tls.crt, tls.key)", args.out_dir.display());
    Ok(())
}
