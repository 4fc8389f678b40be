//! `kubectl fed version`: the client version, and the host apiserver's when reachable.

use std::time::Duration;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::context::{Ctx, GlobalOpts};
use crate::output::{self, OutputFormat};

/// Print the client version (and the host cluster's, when reachable)
#[derive(Args, Debug)]
pub struct VersionOptions {
    /// Print only the client version (reads no kubeconfig)
    #[arg(long)]
    pub client: bool,
}

pub const CLIENT_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

fn print(global: &GlobalOpts, server: Option<&str>) -> Result<()> {
    match global.output {
        Some(f) if f.is_document() => {
            let mut doc = json!({ "clientVersion": { "gitVersion": CLIENT_VERSION } });
            if let Some(s) = server {
                doc["serverVersion"] = json!({ "gitVersion": s });
            }
            output::print_documents(f, vec![doc])
        }
        _ => {
            println!("Client Version: {CLIENT_VERSION}");
            if let Some(s) = server {
                println!("Server Version: {s}");
            }
            Ok(())
        }
    }
}

pub fn run_client_only(global: &GlobalOpts) -> Result<()> {
    print(global, None)
}

pub async fn run(ctx: &Ctx, _opts: VersionOptions) -> Result<()> {
    let server = async {
        let client = ctx.host().await?;
        let info = tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await??;
        anyhow::Ok(info.git_version)
    }
    .await;
    match server {
        Ok(v) => print(&ctx.opts, Some(&v)),
        Err(e) => {
            print(&ctx.opts, None)?;
            if ctx.opts.output != Some(OutputFormat::Json) && ctx.opts.output != Some(OutputFormat::Yaml) {
                output::warn(format!(
                    "host cluster (context {}) not reachable: {}",
                    ctx.host_context,
                    crate::errors::one_line(&e)
                ));
            }
            Ok(())
        }
    }
}
