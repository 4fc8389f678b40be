//! The checks every write made on behalf of a cached object does first.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Client};

/// True when `current` (just read from the API server) is the incarnation `cached` (from a
/// store, which can lag behind a busy watch by seconds) was taken from (same uid) and is not
/// being deleted. Writes that would create something on behalf of `cached` check this first, so
/// a stale store never resurrects what was deleted meanwhile.
pub fn same_live_incarnation(cached: &ObjectMeta, current: &ObjectMeta) -> bool {
    current.uid.is_some() && current.uid == cached.uid && current.deletion_timestamp.is_none()
}

/// The host's namespace `name` as the API server has it now (`None`: not found).
pub async fn host_namespace(host: &Client, name: &str) -> Result<Option<Namespace>, kube::Error> {
    Api::<Namespace>::all(host.clone()).get_opt(name).await
}

/// True when the host's namespace `name` is gone or being deleted, read now
/// ([`fed_core::plan::namespace_ending`]).
pub async fn host_namespace_ending(host: &Client, name: &str) -> Result<bool, kube::Error> {
    Ok(fed_core::plan::namespace_ending(host_namespace(host, name).await?.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_undeleted_incarnation_is_live() {
        let meta = |uid: Option<&str>, deleting: bool| ObjectMeta {
            uid: uid.map(String::from),
            deletion_timestamp: deleting
                .then(|| k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        };
        let cached = meta(Some("a"), false);
        assert!(same_live_incarnation(&cached, &meta(Some("a"), false)));
        assert!(!same_live_incarnation(&cached, &meta(Some("b"), false)), "deleted and re-created");
        assert!(!same_live_incarnation(&cached, &meta(Some("a"), true)), "being deleted");
        assert!(!same_live_incarnation(&meta(None, false), &meta(None, false)), "no uid proves nothing");
    }
}
