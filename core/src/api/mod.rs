//! KubeFed v1beta1 compatible API types.
//!
//! `core.kubefed.io/v1beta1`: [`KubeFedCluster`], [`FederatedTypeConfig`].
//! `types.kubefed.io/v1beta1`: one `Federated<Kind>` per enabled type, all sharing
//! [`FederatedSpec`] / [`FederatedStatus`] and accessed as [`Federated`] with a dynamic
//! [`kube::core::ApiResource`].

mod cluster;
mod federated;
mod meta;
mod rsp;
mod typeconfig;

pub use cluster::*;
pub use federated::*;
pub use meta::*;
pub use rsp::*;
pub use typeconfig::*;
