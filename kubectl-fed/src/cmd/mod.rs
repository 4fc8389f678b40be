//! One module per subcommand, each shaped options (clap) → validate → run.

pub mod clusters;
pub mod completion;
pub mod disable;
pub mod enable;
pub mod federate;
pub mod follow;
pub mod install;
pub mod join;
pub mod place;
pub mod rollout;
pub mod status;
pub mod unjoin;
pub mod unplace;
pub mod version;
