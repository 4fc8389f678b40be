//! fed-bench: the measurement programs behind `make bench-webhook` and `make bench-propagation`
//! (hack/bench-*.sh drive them; BENCHMARKS.md records what they measured).
//!
//! - `review`: prints a realistic admission.k8s.io/v1 AdmissionReview (a CREATE of an annotated
//!   Deployment as the apiserver sends it after `kubectl apply`) for the webhook load generator.
//! - `floor`: a plain client creates N Deployments on each cluster directly (concurrency C per
//!   cluster), timed until a watch on every cluster has seen all of them.
//! - `federated`: the same client creates N annotated Deployments on the host (concurrency C),
//!   timed until a watch on every placed cluster has seen all of them.
//! - `latency`: annotated Deployments created on the host at a steady rate; per object, the time
//!   from the source's creation to the first watch event of its copy on each member.
//! - `memory`: N annotated ConfigMaps placed on one member; the controller process's VmRSS/VmHWM
//!   (from /proc) before, during and after convergence.
//! - `peer`: KubeFed's own workload (a FederatedNamespace, then N Federated<Kind> in KubeFed's
//!   YAML), timed until every member copy is seen; runs against KubeFed or kubectl-fed alike
//!   (`make bench-peer`).
//! - `shards`: the sharded-controller design for 1,000 members, simulated (docs/ARCHITECTURE.md).
//!
//! Every subcommand prints one JSON object on stdout and a human summary on stderr. Nothing here
//! deletes anything: the scripts delete the `bench-*` namespaces.

mod create;
mod latency;
mod memory;
mod objects;
mod peer;
mod procfs;
mod shards;
mod throughput;
mod watches;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fed-bench", about = "kubectl-fed benchmarks (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Print an AdmissionReview body (CREATE of an annotated Deployment).
    Review(ReviewArgs),
    /// Plain client: N Deployments created directly on each cluster.
    Floor(FloorArgs),
    /// N annotated Deployments created on the host, timed until every placed copy exists.
    Federated(FederatedArgs),
    /// Source-to-member latency at a steady creation rate.
    Latency(LatencyArgs),
    /// Controller memory with N federated ConfigMaps.
    Memory(MemoryArgs),
    /// KubeFed's workload: a FederatedNamespace and N Federated<Kind> (KubeFed or kubectl-fed).
    Peer(PeerArgs),
    /// Simulates member clusters sharded over controller replicas by rendezvous hashing.
    Shards(ShardsArgs),
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// `mutate`: the object as it reaches the mutating webhook; `validate`: after mutation
    /// (label added, placement normalised).
    #[arg(long, default_value = "validate")]
    pub stage: String,
    /// Placement annotation.
    #[arg(long, default_value = "earth,vulcan")]
    pub placement: String,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Kubeconfig with one context per cluster.
    #[arg(long, default_value = ".local/kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Namespace to create the objects in (must not exist yet; the scripts delete it).
    #[arg(long)]
    pub namespace: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// PID of fed-webhook: its CPU time and memory over the run are reported.
    #[arg(long)]
    pub pid: Option<u32>,
}

#[derive(Debug, Args)]
pub struct FloorArgs {
    #[command(flatten)]
    pub common: Common,
    /// Clusters (kubeconfig contexts) to create on.
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    pub clusters: Vec<String>,
    /// Deployments per cluster.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Requests in flight per cluster.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct FederatedArgs {
    #[command(flatten)]
    pub common: Common,
    /// Host cluster context.
    #[arg(long, default_value = "earth")]
    pub host: String,
    /// Placement annotation (clusters watched for convergence; the host's copy is the source).
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    pub placement: Vec<String>,
    /// Annotated Deployments created on the host.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Requests in flight on the host.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value = "earth")]
    pub host: String,
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    pub placement: Vec<String>,
    /// Member clusters whose copies are timed (default: the placement without the host).
    #[arg(long, value_delimiter = ',')]
    pub measure: Vec<String>,
    /// Objects created per second.
    #[arg(long, default_value_t = 100)]
    pub rate: u32,
    /// Seconds of steady creation.
    #[arg(long, default_value_t = 30)]
    pub duration: u64,
}

#[derive(Debug, Args)]
pub struct MemoryArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value = "earth")]
    pub host: String,
    /// Placement of the ConfigMaps (one member keeps the member side light).
    #[arg(long, default_value = "vulcan")]
    pub placement: String,
    /// Annotated ConfigMaps created on the host.
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seconds to let the controller settle after convergence before the final reading.
    #[arg(long, default_value_t = 15)]
    pub settle: u64,
}

#[derive(Debug, Args)]
pub struct PeerArgs {
    #[command(flatten)]
    pub common: Common,
    #[arg(long, default_value = "earth")]
    pub host: String,
    /// Member clusters of the placement (KubeFedCluster names; the host may be one of them).
    #[arg(long, value_delimiter = ',', default_value = "earth,vulcan,kronos")]
    pub clusters: Vec<String>,
    /// The federated kind's template.
    #[arg(long, value_enum, default_value = "deployment")]
    pub kind: peer::PeerKind,
    /// Federated objects created on the host.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Requests in flight on the host.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds to wait after convergence before the controller's last memory reading.
    #[arg(long, default_value_t = 0)]
    pub settle: u64,
}

#[derive(Debug, Args)]
pub struct ShardsArgs {
    /// Member clusters.
    #[arg(long, default_value_t = 1000)]
    pub clusters: usize,
    /// Federated objects.
    #[arg(long, default_value_t = 100_000)]
    pub objects: usize,
    /// Clusters each object is placed on.
    #[arg(long, default_value_t = 10)]
    pub placement: usize,
    /// Replica counts to simulate.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,32")]
    pub replicas: Vec<usize>,
    /// Federated types enabled (one watch per type per member).
    #[arg(long, default_value_t = 3)]
    pub types: usize,
    /// Cost model (BENCHMARKS.md): a replica's RSS with nothing federated.
    #[arg(long, default_value_t = 18.0)]
    pub base_mib: f64,
    /// RSS per joined member cluster at idle.
    #[arg(long, default_value_t = 1.0)]
    pub per_cluster_mib: f64,
    /// RSS per federated object held (source record and federated object).
    #[arg(long, default_value_t = 6.5)]
    pub per_object_kib: f64,
    /// RSS per member copy record.
    #[arg(long, default_value_t = 1.0)]
    pub per_copy_kib: f64,
    /// Seconds between health probes of one member.
    #[arg(long, default_value_t = 10.0)]
    pub probe_period_s: f64,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let out = rt.block_on(async {
        match cli.command {
            Cmd::Review(a) => Ok(objects::review(&a)),
            Cmd::Floor(a) => throughput::floor(a).await,
            Cmd::Federated(a) => throughput::federated(a).await,
            Cmd::Latency(a) => latency::latency(a).await,
            Cmd::Memory(a) => memory::memory(a).await,
            Cmd::Peer(a) => peer::peer(a).await,
            Cmd::Shards(a) => Ok(shards::simulate(&a)),
        }
    })?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
