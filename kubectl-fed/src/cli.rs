//! The clap root: global flags and the subcommands.

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::context::GlobalOpts;

/// Federate ordinary Kubernetes objects across clusters.
///
/// Join member clusters, enable types, federate namespaces and objects, place them on clusters
/// with annotations, and see where everything landed. Every flag is accepted after the
/// subcommand (kubectl refuses flags before a plugin's name).
#[derive(Parser, Debug)]
#[command(
    name = "kubectl-fed",
    bin_name = "kubectl fed",
    version,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The global flags.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, one module each under [`crate::cmd`].
#[derive(Subcommand, Debug)]
pub enum Command {
    Install(cmd::install::InstallOptions),
    Join(cmd::join::JoinOptions),
    Unjoin(cmd::unjoin::UnjoinOptions),
    Clusters(cmd::clusters::ClustersOptions),
    Enable(cmd::enable::EnableOptions),
    Disable(cmd::disable::DisableOptions),
    Federate(cmd::federate::FederateOptions),
    Follow(cmd::follow::FollowOptions),
    Place(cmd::place::PlaceOptions),
    Unplace(cmd::unplace::UnplaceOptions),
    Status(cmd::status::StatusOptions),
    Rollout(cmd::rollout::RolloutOptions),
    Version(cmd::version::VersionOptions),
    Completion(cmd::completion::CompletionOptions),
}
