//! Security properties of the running federation (issue 6): least-privilege RBAC for the host
//! component and for the members' federation service accounts, no member token in any output
//! or log, TLS 1.2+ only, federated objects confined to their namespace, and namespace
//! placement policy that no route around admission can bypass.

use std::process::{Command, Stdio};
use std::time::Duration;

use fed_core::keys::FEDERATION_NAMESPACE;
use fed_e2e::kubectl_fed as fed;
use fed_e2e::{
    TestNamespace, annotated_config_map, apply_on_earth as apply, assert_denied, federation, kubectl, output_text,
    plugin_dir, wait_until,
};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::json;

const CONVERGE: Duration = Duration::from_secs(60);

/// `enable`/`disable` change the host component's and the members' rights, and `join
/// --overwrite` rewrites a member's ClusterRole: tests that do any of these or that ask
/// about those rights take turns.
static ENABLED_TYPES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One access question: `verb group/resource[/subresource]` in `namespace` (`""`: cluster-wide),
/// on any object of the resource.
type Access = (&'static str, &'static str, &'static str, &'static str, &'static str);

/// The apiserver's answer, for service account `sa` of the federation namespace, through a
/// SubjectAccessReview (the same authorizer the real requests meet).
async fn allowed(client: &Client, sa: &str, access: Access) -> bool {
    allowed_on(client, sa, access, None).await
}

/// [`allowed`] for the object named `name`.
async fn allowed_on(
    client: &Client,
    sa: &str,
    (verb, group, resource, sub, namespace): Access,
    name: Option<&str>,
) -> bool {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{FEDERATION_NAMESPACE}:{sa}")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{FEDERATION_NAMESPACE}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource: (!sub.is_empty()).then(|| sub.into()),
                namespace: (!namespace.is_empty()).then(|| namespace.into()),
                name: name.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("SubjectAccessReview answered");
    answer.status.is_some_and(|s| s.allowed)
}

/// Asserts every access in `can` is allowed and every one in `cannot` is refused.
async fn assert_access(client: &Client, sa: &str, can: &[Access], cannot: &[Access]) {
    for access in can {
        assert!(allowed(client, sa, *access).await, "{sa} should be allowed {access:?}");
    }
    for access in cannot {
        assert!(!allowed(client, sa, *access).await, "{sa} should be refused {access:?}");
    }
}

const HOST_SA: &str = "kubectl-fed-webhook";
const FED_NS: &str = FEDERATION_NAMESPACE;

#[tokio::test]
async fn host_component_service_account_can_do_only_what_it_needs() {
    // `kubectl fed install` (the bed's local form too) applies manifests/host's ServiceAccount
    // and RBAC; the questions below are the ones the webhook's code asks of the API.
    let bed = federation().await;
    let can: &[Access] = &[
        ("watch", "", "secrets", "", FED_NS),
        ("list", "core.kubefed.io", "kubefedclusters", "", FED_NS),
        ("patch", "core.kubefed.io", "kubefedclusters", "status", FED_NS),
        ("watch", "core.kubefed.io", "federatedtypeconfigs", "", FED_NS),
        ("create", "coordination.k8s.io", "leases", "", FED_NS),
        ("watch", "types.kubefed.io", "federateddeployments", "", ""),
        ("create", "types.kubefed.io", "federateddeployments", "", "default"),
        ("delete", "types.kubefed.io", "federatedconfigmaps", "", "default"),
        ("patch", "types.kubefed.io", "federateddeployments", "status", "default"),
        ("watch", "apps", "deployments", "", ""),
        ("update", "apps", "deployments", "finalizers", "default"),
        ("list", "", "namespaces", "", ""),
        // The follow label controller writes the kubefed.io/follow label.
        ("patch", "", "namespaces", "", ""),
        ("create", "events.k8s.io", "events", "", "default"),
    ];
    let cannot: &[Access] = &[
        // Secrets only in the federation namespace, and read-only there.
        ("get", "", "secrets", "", "default"),
        ("list", "", "secrets", "", "kube-system"),
        ("list", "", "secrets", "", ""),
        ("create", "", "secrets", "", FED_NS),
        ("update", "", "secrets", "", FED_NS),
        // No RBAC, no identity tricks.
        ("create", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("update", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("escalate", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("bind", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("create", "rbac.authorization.k8s.io", "clusterrolebindings", "", ""),
        ("create", "rbac.authorization.k8s.io", "rolebindings", "", FED_NS),
        ("impersonate", "", "users", "", ""),
        ("create", "", "serviceaccounts", "token", FED_NS),
        // Sources are read, never written; nothing else is touched.
        ("update", "apps", "deployments", "", "default"),
        ("delete", "", "configmaps", "", "default"),
        ("create", "", "pods", "", "default"),
        ("delete", "", "namespaces", "", ""),
        ("create", "apiextensions.k8s.io", "customresourcedefinitions", "", ""),
        // Cluster registrations are kubectl fed's to write; the webhook only reports health.
        ("update", "core.kubefed.io", "kubefedclusters", "", FED_NS),
        ("delete", "core.kubefed.io", "kubefedclusters", "", FED_NS),
        ("update", "core.kubefed.io", "federatedtypeconfigs", "", FED_NS),
        ("create", "coordination.k8s.io", "leases", "", "default"),
        ("patch", "coordination.k8s.io", "leases", "", FED_NS),
    ];
    let _turn = ENABLED_TYPES.lock().await;
    assert_access(&bed.earth, HOST_SA, can, cannot).await;
    // Leader election renews its own Lease only.
    let renew = ("patch", "coordination.k8s.io", "leases", "", FED_NS);
    assert!(allowed_on(&bed.earth, HOST_SA, renew, Some("kubectl-fed-controllers")).await);
    assert!(!allowed_on(&bed.earth, HOST_SA, renew, Some("kube-scheduler")).await);
}

/// A kubeconfig for earth whose user is a fresh token of the host component's ServiceAccount.
fn host_component_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let token = kubectl(&["--context", "earth", "-n", FED_NS, "create", "token", HOST_SA, "--duration=10m"]);
    assert!(token.status.success(), "{}", output_text(&token));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let view = kubectl(&["config", "view", "--raw", "--minify", "--context", "earth", "-o", "json"]);
    assert!(view.status.success(), "{}", output_text(&view));
    let mut config: serde_json::Value = serde_json::from_slice(&view.stdout).unwrap();
    config["users"][0]["user"] = json!({ "token": token });
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// A child process killed (by its own pid) when dropped, so a failing test leaves nothing behind.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn admission_caches_sync_under_the_host_component_service_account() {
    federation().await;
    let dir = std::env::temp_dir().join(fed_e2e::unique_name("fed-sa"));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = host_component_kubeconfig(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let pki = dir.join("pki");
    let certs = Command::new(plugin_dir().join("fed-webhook"))
        .args(["certs", "--ip", "127.0.0.1", "--out-dir"])
        .arg(&pki)
        .output()
        .expect("fed-webhook certs runs");
    assert!(certs.status.success(), "{}", output_text(&certs));
    let log = dir.join("fed-webhook.log");
    let child = Command::new(plugin_dir().join("fed-webhook"))
        .args(["serve", "--no-controllers", "--context", "earth", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--tls-cert")
        .arg(pki.join("tls.crt"))
        .arg("--tls-key")
        .arg(pki.join("tls.key"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
        .spawn()
        .expect("fed-webhook starts");
    let _child = KillOnDrop(child);
    let ca = pki.join("ca.crt");
    let url = format!("https://127.0.0.1:{port}/readyz");
    // Ready means every admission cache (clusters, type configs, each enabled Federated<Kind>)
    // finished its initial list and opened its watch with the ServiceAccount's rights alone.
    wait_until(CONVERGE, "fed-webhook under the ServiceAccount to be ready", || async {
        let out = Command::new("curl").args(["-sf", "--cacert"]).arg(&ca).arg(&url).output().ok()?;
        out.status.success().then_some(())
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.to_lowercase().contains("forbidden"), "refused requests in the log:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The member's federation service account, as `join` names it.
fn member_sa(cluster: &str) -> String {
    format!("kubefed-{cluster}")
}

#[tokio::test]
async fn member_role_covers_only_the_enabled_types_and_follows_enable_and_disable() {
    let bed = federation().await;
    let _turn = ENABLED_TYPES.lock().await;
    let sa = member_sa("vulcan");
    let can: &[Access] = &[
        ("create", "apps", "deployments", "", "default"),
        ("delete", "", "configmaps", "", "kube-system"),
        ("create", "", "namespaces", "", ""),
    ];
    let cannot: &[Access] = &[
        ("get", "", "secrets", "", "default"),
        ("create", "", "pods", "", "default"),
        ("create", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("bind", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("escalate", "rbac.authorization.k8s.io", "clusterroles", "", ""),
        ("create", "rbac.authorization.k8s.io", "rolebindings", "", "default"),
        ("create", "", "serviceaccounts", "token", FED_NS),
        ("impersonate", "", "users", "", ""),
    ];
    assert_access(&bed.vulcan, &sa, can, cannot).await;

    let secrets: Access = ("list", "", "secrets", "", "default");
    let follows = |enabled: bool, step: &'static str| {
        let vulcan = bed.vulcan.clone();
        let sa = sa.clone();
        async move {
            wait_until(Duration::from_secs(20), step, || async {
                (allowed(&vulcan, &sa, secrets).await == enabled).then_some(())
            })
            .await
        }
    };
    let ok = |out: std::process::Output| assert!(out.status.success(), "{}", output_text(&out));
    ok(fed(&["enable", "secrets"]));
    follows(true, "secrets granted on vulcan after `enable secrets`").await;
    assert!(!allowed(&bed.vulcan, &sa, ("create", "", "pods", "", "default")).await, "only the enabled type");
    ok(fed(&["disable", "secrets"]));
    follows(false, "secrets withdrawn on vulcan after `disable secrets`").await;
    ok(fed(&["enable", "secrets"]));
    follows(true, "secrets granted again after re-enabling").await;
    ok(fed(&["disable", "secrets", "--delete-crd"]));
    follows(false, "secrets withdrawn after `disable secrets --delete-crd`").await;
    assert_access(&bed.vulcan, &sa, can, &[]).await;
}

#[tokio::test]
async fn member_tokens_never_appear_in_kubectl_fed_output_or_the_webhook_log() {
    let bed = federation().await;
    let _turn = ENABLED_TYPES.lock().await;
    let secret = Api::<Secret>::namespaced(bed.earth.clone(), FED_NS).get("vulcan-token").await.unwrap();
    let token = secret.data.as_ref().and_then(|d| d.get("token")).expect("vulcan's token").0.clone();
    let token = String::from_utf8(token).unwrap();
    let encoded = serde_json::to_value(&secret).unwrap()["data"]["token"].as_str().unwrap().to_string();
    assert!(token.len() > 100 && encoded.len() > 100, "a real token");

    let runs: &[&[&str]] = &[
        &["clusters"],
        &["clusters", "-o", "wide"],
        &["clusters", "-o", "yaml"],
        &["clusters", "-o", "json"],
        &["status", "-A"],
        &["join", "vulcan", "--cluster-context", "vulcan", "--overwrite", "--dry-run", "-o", "yaml"],
        &["join", "vulcan", "--cluster-context", "vulcan", "--overwrite", "--dry-run=server", "-o", "json"],
        // A real re-join: the same token is read back and stored again.
        &["join", "vulcan", "--cluster-context", "vulcan", "--overwrite", "-o", "yaml"],
        &["join", "vulcan", "--cluster-context", "vulcan", "--overwrite"],
        &["unjoin", "vulcan", "--force", "--dry-run"],
        &["unjoin", "vulcan", "--force", "--dry-run", "-o", "yaml"],
        &["install", "--dry-run", "-o", "yaml"],
    ];
    for args in runs {
        let out = fed(args);
        let text = output_text(&out);
        assert!(out.status.success(), "kubectl fed {args:?}: {text}");
        for secret in [&token, &encoded] {
            assert!(!text.contains(secret.as_str()), "kubectl fed {args:?} printed vulcan's token:\n{text}");
        }
    }
    // What -o prints for a Secret says it was redacted rather than leaving it out silently.
    let joined =
        String::from_utf8(fed(&["join", "vulcan", "--cluster-context", "vulcan", "--overwrite", "-o", "json"]).stdout)
            .unwrap();
    let list: serde_json::Value = serde_json::from_str(&joined).unwrap();
    let host_secret = list["items"].as_array().unwrap().iter().find(|o| o["metadata"]["name"] == "vulcan-token");
    assert_eq!(host_secret.expect("the host Secret is listed")["data"]["token"], "<redacted>");

    let log = fed_e2e::webhook_log();
    assert!(log.len() > 1000, "the webhook has logged");
    assert!(!log.contains(&token) && !log.contains(&encoded), "vulcan's token is in fed-webhook.log");
    // The re-joins above must not have changed what the federation uses.
    let after = Api::<Secret>::namespaced(bed.earth.clone(), FED_NS).get("vulcan-token").await.unwrap();
    assert_eq!(after.data, secret.data);
}

/// `openssl s_client` against the running webhook with protocol flag `version`.
fn handshake(version: &str) -> std::process::Output {
    Command::new("openssl")
        .args(["s_client", "-connect", &fed_e2e::webhook_address(), version])
        // OpenSSL 3 refuses TLS < 1.2 itself at its default security level; level 0 makes it
        // offer the old protocol so that the refusal we see is the server's.
        .args(["-cipher", "DEFAULT@SECLEVEL=0", "-CAfile"])
        .arg(fed_e2e::webhook_ca_file())
        .stdin(Stdio::null())
        .output()
        .expect("openssl runs")
}

#[tokio::test]
async fn the_running_webhook_refuses_tls_below_1_2() {
    federation().await;
    for old in ["-tls1", "-tls1_1"] {
        let out = handshake(old);
        let text = output_text(&out);
        assert!(!out.status.success(), "{old} handshake succeeded:\n{text}");
        assert!(text.contains("alert handshake failure") || text.contains("alert protocol version"), "{old}: {text}");
        assert!(text.contains("Cipher is (NONE)"), "{old} negotiated a cipher: {text}");
    }
    for (modern, protocol) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let out = handshake(modern);
        let text = output_text(&out);
        assert!(out.status.success(), "{modern}: {text}");
        assert!(text.contains(&format!("New, {protocol}, Cipher is")), "{modern}: {text}");
        assert!(text.contains("Verify return code: 0 (ok)"), "{modern}: {text}");
    }
}

/// A FederatedConfigMap manifest.
fn federated_config_map(name: &str, template: serde_json::Value, overrides: serde_json::Value) -> String {
    json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedConfigMap",
        "metadata": {"name": name},
        "spec": {"template": template, "placement": {"clusters": [{"name": "vulcan"}]}, "overrides": overrides}
    })
    .to_string()
}

#[tokio::test]
async fn federated_objects_only_ever_write_into_their_own_namespace() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "sec-own").await;
    // Another namespace on vulcan, where a stray write would land.
    let vulcan_victim = TestNamespace::create(&bed.vulcan, "sec-victim").await;
    let elsewhere = json!({"namespace": vulcan_victim.name, "name": "escaped"});

    // Overrides that would move the copy: on the namespace itself, or on all of metadata.
    let escapes = [
        json!([{"op": "replace", "path": "/metadata/namespace", "value": vulcan_victim.name}]),
        json!([{"op": "replace", "path": "/metadata", "value": elsewhere}]),
        json!([{"op": "add", "path": "/metadata", "value": elsewhere}]),
    ];
    for (i, ops) in escapes.iter().enumerate() {
        let overrides = json!([{"clusterName": "vulcan", "clusterOverrides": ops}]);
        let manifest = federated_config_map(&format!("fed-{i}"), json!({"data": {"k": "v"}}), overrides);
        assert_denied(&apply(&ns.name, &manifest, &[]), &["identity"]);
        let annotations =
            json!({"kubefed.io/placement": "vulcan", "kubefed.io/overrides": json!({"vulcan": ops}).to_string()});
        assert_denied(&apply(&ns.name, &annotated_config_map(&format!("src-{i}"), annotations), &[]), &["identity"]);
    }

    // A template naming another namespace is admitted, but the copy lands in its own.
    let template = json!({"metadata": {"namespace": vulcan_victim.name, "name": "escaped"}, "data": {"k": "v"}});
    let out = apply(&ns.name, &federated_config_map("tmpl", template, json!([])), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let own = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), &ns.name);
    let copy =
        wait_until(CONVERGE, "the copy in its own namespace on vulcan", || async { own.get_opt("tmpl").await.ok()? })
            .await;
    assert_eq!(copy.data.unwrap()["k"], "v");
    let stray = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), &vulcan_victim.name);
    for name in ["tmpl", "escaped", "fed-0", "fed-1", "fed-2", "src-0", "src-1", "src-2"] {
        assert!(stray.get_opt(name).await.unwrap().is_none(), "{name} landed in {}", vulcan_victim.name);
    }
    ns.delete().await;
    vulcan_victim.delete().await;
}

/// A Deployment source manifest with these annotations.
fn deployment_source(name: &str, annotations: serde_json::Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}
    })
    .to_string()
}

/// A namespace of earth whose FederatedNamespace allows earth only, once admission has seen it.
async fn earth_only_namespace(bed: &fed_e2e::Bed, prefix: &str) -> TestNamespace {
    let ns = TestNamespace::create(&bed.earth, prefix).await;
    let policy = json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedNamespace",
        "metadata": {"name": ns.name}, "spec": {"placement": {"clusters": [{"name": "earth"}]}}
    });
    let out = apply(&ns.name, &policy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let probe = deployment_source("probe", json!({"kubefed.io/placement": "vulcan"}));
    wait_until(Duration::from_secs(20), "the webhook to know the namespace policy", || async {
        (!apply(&ns.name, &probe, &["--dry-run=server"]).status.success()).then_some(())
    })
    .await;
    ns
}

#[tokio::test]
async fn namespace_policy_holds_against_updates_of_the_annotations() {
    let bed = federation().await;
    let ns = earth_only_namespace(&bed, "sec-pol-upd").await;
    let out = apply(&ns.name, &deployment_source("web", json!({"kubefed.io/placement": "earth"})), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let n = ns.name.as_str();
    let updates: [&[&str]; 3] = [
        &["annotate", "--overwrite", "deployment", "web", "kubefed.io/placement=earth,vulcan"],
        &["annotate", "--overwrite", "deployment", "web", "kubefed.io/placement=*"],
        // A selector instead of a list: every member but the host.
        &[
            "annotate",
            "deployment",
            "web",
            "kubefed.io/placement-",
            "kubefed.io/cluster-selector=kubefed.io/host!=true",
        ],
    ];
    for update in updates {
        let mut args = vec!["--context", "earth", "-n", n];
        args.extend_from_slice(update);
        assert_denied(&kubectl(&args), &["outside the placement of FederatedNamespace"]);
    }
    let placed = fed(&["place", "deployment/web", "--clusters", "earth,kronos", "-n", n]);
    assert!(!placed.status.success() && output_text(&placed).contains("kronos"), "{}", output_text(&placed));
    // Nothing of it reached a member outside the policy.
    let stored =
        kubectl(&["--context", "earth", "-n", n, "get", "deployment", "web", "-o", "jsonpath={.metadata.annotations}"]);
    assert!(output_text(&stored).contains(r#""kubefed.io/placement":"earth""#), "{}", output_text(&stored));
    ns.delete().await;
}

#[tokio::test]
async fn namespace_policy_holds_against_patches_of_federated_objects() {
    let bed = federation().await;
    let ns = earth_only_namespace(&bed, "sec-pol-patch").await;
    let n = ns.name.as_str();
    let fed_deploy = json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedDeployment",
        "metadata": {"name": "fedweb"},
        "spec": {"template": {"spec": {"replicas": 1}}, "placement": {"clusters": [{"name": "earth"}]}}
    });
    let out = apply(n, &fed_deploy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    // The FederatedDeployment that a source's controller made is patched the same way.
    let out = apply(n, &deployment_source("web", json!({"kubefed.io/placement": "earth"})), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let fd = Api::<fed_core::api::Federated>::namespaced_with(
        bed.earth.clone(),
        n,
        &kube::core::ApiResource {
            group: "types.kubefed.io".into(),
            version: "v1beta1".into(),
            api_version: "types.kubefed.io/v1beta1".into(),
            kind: "FederatedDeployment".into(),
            plural: "federateddeployments".into(),
        },
    );
    wait_until(CONVERGE, "the FederatedDeployment of source web", || async { fd.get_opt("web").await.ok()? }).await;

    let patches = [
        json!({"spec": {"placement": {"clusters": [{"name": "vulcan"}]}}}),
        json!({"spec": {"placement": {"clusters": null, "clusterSelector": {}}}}),
        json!({"spec": {"placement": {"clusters": null, "clusterSelector": {"matchLabels": {}}}}}),
    ];
    for name in ["fedweb", "web"] {
        for patch in &patches {
            let out = kubectl(&[
                "--context",
                "earth",
                "-n",
                n,
                "patch",
                "federateddeployment",
                name,
                "--type",
                "merge",
                "-p",
                &patch.to_string(),
            ]);
            assert_denied(&out, &["outside the placement of FederatedNamespace"]);
        }
        let placement = &fd.get(name).await.unwrap().spec.placement;
        assert_eq!(serde_json::to_value(placement).unwrap(), json!({"clusters": [{"name": "earth"}]}), "{name}");
    }
    ns.delete().await;
}

#[tokio::test]
async fn a_policy_made_after_the_objects_still_confines_them() {
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "sec-pol-late").await;
    let n = ns.name.as_str();
    let out = apply(n, &annotated_config_map("early", json!({"kubefed.io/placement": "earth,vulcan"})), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let on_vulcan = Api::<ConfigMap>::namespaced(bed.vulcan.clone(), n);
    wait_until(CONVERGE, "early on vulcan", || async { on_vulcan.get_opt("early").await.ok()? }).await;

    let policy = json!({
        "apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedNamespace",
        "metadata": {"name": n}, "spec": {"placement": {"clusters": [{"name": "earth"}]}}
    });
    let out = apply(n, &policy.to_string(), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    wait_until(CONVERGE, "early removed from vulcan, outside the new policy", || async {
        matches!(on_vulcan.get_opt("early").await, Ok(None)).then_some(())
    })
    .await;
    ns.delete().await;
}

#[tokio::test]
async fn only_the_controllers_own_writes_of_federated_objects_skip_review() {
    // The validating webhook's second match condition lets the host component's ServiceAccount
    // write Federated objects unreviewed (they come from objects admission already checked).
    // A ServiceAccount of the same name in another namespace is an ordinary user.
    let bed = federation().await;
    let ns = TestNamespace::create(&bed.earth, "sec-skip").await;
    let n = ns.name.as_str();
    let rbac = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": HOST_SA}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "federated-writer"},
         "rules": [{"apiGroups": ["types.kubefed.io"], "resources": ["federatedconfigmaps"],
                    "verbs": ["get", "create", "patch", "update", "delete"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "federated-writer"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "federated-writer"},
         "subjects": [{"kind": "ServiceAccount", "name": HOST_SA, "namespace": n}]}]})
    .to_string();
    let out = apply(n, &rbac, &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    // Placed on a cluster that is not joined: the webhook refuses it to anyone it reviews.
    let unjoined = |name: &str| {
        json!({"apiVersion": "types.kubefed.io/v1beta1", "kind": "FederatedConfigMap", "metadata": {"name": name},
               "spec": {"template": {"data": {"k": "v"}}, "placement": {"clusters": [{"name": "nowhere"}]}}})
        .to_string()
    };
    let namesake = format!("--as=system:serviceaccount:{n}:{HOST_SA}");
    assert_denied(&apply(n, &unjoined("by-namesake"), &[&namesake]), &["nowhere"]);
    assert_denied(&apply(n, &unjoined("by-admin"), &[]), &["nowhere"]);
    let controllers = format!("--as={}", fed_core::webhook_config::controllers_username(FED_NS));
    let out = apply(n, &unjoined("by-controllers"), &[&controllers]);
    assert!(out.status.success(), "the controllers' own write is not reviewed: {}", output_text(&out));
    ns.delete().await;
}
