//! `kubefed.io/overrides`: any text either parses to per-cluster operations that are valid,
//! read back the same when re-rendered and never change a rendered member object's identity,
//! or fails with one line naming the annotation.
#![no_main]

use fed_core::annotations::parse_overrides;
use fed_core::api::{ApiResourceRef, Federated, Scope};
use fed_core::render::member_object;
use fed_core::{keys, names, overrides};
use fed_fuzz::assert_message;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else { return };
    let parsed = match parse_overrides(value) {
        Ok(parsed) => parsed,
        Err(e) => return assert_message(&e.to_string(), &format!("{}: ", keys::OVERRIDES)),
    };
    assert!(parsed.windows(2).all(|w| w[0].cluster_name < w[1].cluster_name), "sorted by cluster, no duplicates");
    let rendered: Map<String, Value> = parsed
        .iter()
        .map(|o| (o.cluster_name.clone(), serde_json::to_value(&o.cluster_overrides).expect("serializable")))
        .collect();
    assert_eq!(parse_overrides(&Value::Object(rendered).to_string()).as_ref(), Ok(&parsed), "re-rendered");

    let target = ApiResourceRef {
        group: "apps".into(),
        version: "v1".into(),
        kind: "Deployment".into(),
        plural_name: "deployments".into(),
        scope: Scope::Namespaced,
    };
    let mut fed: Federated = serde_json::from_value(json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}
        }}
    }))
    .expect("a valid federated object");
    fed.spec.overrides = parsed.clone();
    for entry in &parsed {
        assert_eq!(names::dns1123_subdomain(&entry.cluster_name), Ok(()));
        assert_eq!(overrides::validate(&entry.cluster_overrides), Ok(()));
        match member_object(&fed, &target, &entry.cluster_name) {
            Ok(member) => {
                let identity = (
                    &member["apiVersion"],
                    &member["kind"],
                    &member["metadata"]["name"],
                    &member["metadata"]["namespace"],
                );
                assert_eq!(
                    identity,
                    (&json!("apps/v1"), &json!("Deployment"), &json!("web"), &json!("shop")),
                    "{member}"
                );
            }
            Err(e) => {
                assert_message(&e.to_string(), &format!("overrides for cluster {:?}: operation ", entry.cluster_name))
            }
        }
    }
});
