//! `kubectl fed rollout status TYPE/NAME [--timeout D]`: waits until every placed cluster has
//! rolled out the federated workload's current spec ([`fed_core::workload::rollout`]), like
//! `kubectl rollout status`: exit 0 when done; on timeout exit 1 naming the lagging clusters.
//! For an annotated source, the federated object must first show the source as it is now.

use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use fed_core::annotations::{FederationAnnotations, from_annotations};
use fed_core::api::{Federated, FederatedTypeConfig};
use fed_core::source::{desired_spec, source_owner, spec_digest, up_to_date};
use fed_core::{render, workload};
use kube::ResourceExt;
use tokio::time::Instant;

use crate::context::Ctx;
use crate::discovery::split_type_name;
use crate::fedapi::{self, fed_api};
use crate::{output, waiting};

/// Manage the rollout of a federated workload
#[derive(Args, Debug)]
pub struct RolloutOptions {
    /// What to do.
    #[command(subcommand)]
    pub command: RolloutCommand,
}

/// The rollout subcommands.
#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    Status(RolloutStatusOptions),
}

/// Wait until a federated workload has rolled out on every placed cluster
///
/// Done when the federation has propagated the object's latest change and every placed
/// cluster's copy has all its pods updated and available. Exits 1 on timeout, naming the
/// clusters that lag behind.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kubectl fed rollout status deployment/web -n demo
  kubectl fed rollout status deployment/web --timeout 2m")]
pub struct RolloutStatusOptions {
    /// TYPE/NAME of the workload (e.g. deployment/web, federateddeployment/web)
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
    /// How long to wait (e.g. 30s, 5m, 1h; 0 waits forever)
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub timeout: String,
}

/// A duration as kubectl writes them: a whole number with `s`, `m` or `h` (plain: seconds).
pub fn parse_timeout(value: &str) -> Result<Option<Duration>> {
    let v = value.trim();
    let (number, unit) = match v.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => v.split_at(i),
        None => (v, "s"),
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("--timeout {value:?}: expected a duration such as 30s, 5m or 1h"),
    };
    let Ok(n) = number.parse::<u64>() else { bail!("--timeout {value:?}: expected a duration such as 30s, 5m or 1h") };
    Ok((n > 0).then(|| Duration::from_secs(n.saturating_mul(seconds))))
}

impl RolloutStatusOptions {
    fn validate(&self) -> Result<Option<Duration>> {
        split_type_name(&self.target)?;
        parse_timeout(&self.timeout)
    }
}

/// Runs `kubectl fed rollout …`.
pub async fn run(ctx: &Ctx, opts: RolloutOptions) -> Result<()> {
    let RolloutCommand::Status(opts) = opts.command;
    let timeout = opts.validate()?;
    let client = ctx.host().await?;
    let configs = fedapi::type_configs(&client, ctx.fed_ns(), &ctx.host_context).await?;
    let (ftc, fed) = fedapi::federated_of(ctx, &configs, &opts.target).await?;
    if !workload::is_workload(&ftc.spec.target_type) {
        bail!(
            "{} is not a workload: rollout status applies to Deployments, ReplicaSets, StatefulSets, DaemonSets and Jobs",
            ftc.spec.target_type.kind
        );
    }
    let api = fed_api(&client, &ftc.spec.federated_type, Some(&ctx.namespace));
    let source = source_wanted(&client, &ftc, &fed, &ctx.namespace).await?;
    // No deadline: wait as long as a year.
    let deadline = Instant::now() + timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let current = |f: &Federated| source.as_ref().is_none_or(|(digest, ann, uid)| up_to_date(f, *digest, ann, uid));
    let done = |f: Option<&Federated>| f.is_some_and(|f| current(f) && workload::rollout(f).is_ok());
    let held = waiting::until(api.clone(), &fed.name_any(), deadline, done).await?;
    if held.is_some() {
        output::note(format!("{} successfully rolled out on every placed cluster", opts.target));
        return Ok(());
    }
    let lagging = match api.get_opt(&fed.name_any()).await? {
        Some(now) if !current(&now) => vec!["the federated object does not show the source's latest change yet".into()],
        Some(now) => workload::rollout(&now).err().unwrap_or_default(),
        None => vec!["the federated object is gone".to_string()],
    };
    bail!("timed out waiting for the rollout of {}: {}", opts.target, lagging.join("; "))
}

/// For the federated object of an annotated source: what its spec must be to show the source as
/// it is now (the digest [`up_to_date`] checks, the annotations, the source's uid). A change
/// to the source reaches the federated object a moment later; until then the rollout of the
/// change has not started.
async fn source_wanted(
    client: &kube::Client,
    ftc: &FederatedTypeConfig,
    fed: &Federated,
    namespace: &str,
) -> Result<Option<(u64, FederationAnnotations, String)>> {
    let target = &ftc.spec.target_type;
    let Some(owner) = source_owner(fed, target) else { return Ok(None) };
    let api = fedapi::dyn_api(client, &target.api_resource(), true, Some(namespace));
    let Some(mut source) = api.get_opt(&owner.name).await? else { return Ok(None) };
    render::trim_source(&mut source);
    let Ok(Some(ann)) = from_annotations(source.annotations()) else { return Ok(None) };
    let digest = spec_digest(&desired_spec(&source, &ann));
    Ok(Some((digest, ann, source.uid().unwrap_or_default())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_like_kubectls() {
        assert_eq!(parse_timeout("30s").unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("2m").unwrap(), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1h").unwrap(), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("45").unwrap(), Some(Duration::from_secs(45)));
        assert_eq!(parse_timeout("0s").unwrap(), None, "0 waits forever");
        for bad in ["", "s", "1.5m", "5d", "-1s"] {
            let err = parse_timeout(bad).unwrap_err().to_string();
            assert!(err.contains("expected a duration"), "{bad}: {err}");
        }
    }
}
