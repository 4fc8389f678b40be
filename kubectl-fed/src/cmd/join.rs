//! `kubectl fed join NAME --cluster-context CTX [--label k=v]… [--overwrite]`.
//!
//! On the member (through context CTX of the same kubeconfig): the federation namespace (only
//! created when missing, and then labelled so unjoin may delete it), ServiceAccount
//! `kubefed-NAME`, ClusterRole and ClusterRoleBinding `kubefed:member:NAME`, and a
//! `kubernetes.io/service-account-token` Secret `kubefed-NAME-token` whose token the member's
//! token controller fills in. On the host: Secret `NAME-token` (key `token`) and the
//! KubeFedCluster `NAME` (apiEndpoint and caBundle from the member's kubeconfig entry, the
//! `--label`s, and `kubefed.io/host=true` when the member is the host itself).
//!
//! **Least privilege and later `enable`s.** The member ClusterRole grants exactly
//! get/list/watch/create/update/patch/delete on the types enabled (propagation `Enabled`) at
//! join time plus namespaces, list/watch on nodes and pods (the controllers' capacity ledger),
//! and `get` on `/readyz` for the health probe. It grants nothing on RBAC, so the federation's
//! token can never widen its own rights (no `escalate`/`bind`).
//! When `enable` adds a type, it widens each member's ClusterRole through the *member's
//! kubeconfig context* (one named like the cluster, or one whose server is the cluster's API
//! endpoint) — the same admin credentials `join` used; `disable` narrows it the same way. A
//! member without such a context is reported with the fix:
//! `kubectl fed join NAME --cluster-context CTX --overwrite` re-syncs its ClusterRole.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use fed_core::api::{ApiResourceRef, KubeFedCluster, KubeFedClusterSpec, LocalSecretReference};
use fed_core::keys::HOST_LABEL;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::apply::{Obj, Writer};
use crate::context::Ctx;
use crate::fedapi::{self, CREATED_BY_JOIN_LABEL, MemberNames};
use crate::kubeconfig::normalize_server;
use crate::member_rbac::{member_cluster_role, member_meta};
use crate::{output, waiting};

/// Join a member cluster (a kubeconfig context) to the federation
#[derive(Args, Debug)]
pub struct JoinOptions {
    /// Name of the cluster in the federation (a DNS label, e.g. vulcan)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Kubeconfig context of the member cluster (default: the context named NAME)
    #[arg(long, value_name = "CONTEXT")]
    pub cluster_context: Option<String>,
    /// Label of the KubeFedCluster, matched by cluster selectors (repeatable)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Replace an existing KubeFedCluster of the same name
    #[arg(long)]
    pub overwrite: bool,
    /// Seconds to wait for the member to fill in the service account token
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub token_timeout: u64,
}

/// Parse `--label k=v` flags.
pub fn parse_labels(flags: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for flag in flags {
        let Some((k, v)) = flag.split_once('=') else {
            bail!("--label {flag:?}: expected KEY=VALUE");
        };
        fed_core::names::label_key(k).map_err(|e| anyhow::anyhow!("--label {flag:?}: key {e}"))?;
        fed_core::names::label_value(v).map_err(|e| anyhow::anyhow!("--label {flag:?}: value {e}"))?;
        if k == HOST_LABEL {
            bail!("--label {flag:?}: {HOST_LABEL} is set by join itself when the member is the host cluster");
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

impl JoinOptions {
    fn validate(&self) -> Result<BTreeMap<String, String>> {
        fed_core::names::dns1123_label(&self.name)
            .map_err(|e| anyhow::anyhow!("invalid cluster name {:?}: {e}", self.name))?;
        parse_labels(&self.labels)
    }
}

/// The member-side objects, in creation order (namespace, service account, role, binding,
/// token secret).
pub fn member_objects(cluster: &str, fed_ns: &str, targets: &[ApiResourceRef]) -> Result<Vec<Obj>> {
    let names = MemberNames::for_cluster(cluster);
    let mut ns_meta = member_meta(fed_ns, None, cluster);
    ns_meta.labels.get_or_insert_default().insert(CREATED_BY_JOIN_LABEL.to_string(), cluster.to_string());
    let namespace = Namespace { metadata: ns_meta, ..Default::default() };
    let sa =
        ServiceAccount { metadata: member_meta(&names.service_account, Some(fed_ns), cluster), ..Default::default() };
    let binding = ClusterRoleBinding {
        metadata: member_meta(&names.cluster_role, None, cluster),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: names.cluster_role.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: names.service_account.clone(),
            namespace: Some(fed_ns.to_string()),
            ..Default::default()
        }]),
    };
    let mut token_meta = member_meta(&names.token_secret, Some(fed_ns), cluster);
    token_meta.annotations =
        Some(BTreeMap::from([("kubernetes.io/service-account.name".to_string(), names.service_account.clone())]));
    let token = Secret {
        metadata: token_meta,
        type_: Some("kubernetes.io/service-account-token".into()),
        ..Default::default()
    };
    Ok(vec![
        Obj::typed(&namespace)?,
        Obj::typed(&sa)?,
        Obj::typed(&member_cluster_role(cluster, targets))?,
        Obj::typed(&binding)?,
        Obj::typed(&token)?,
    ])
}

/// The host-side Secret and KubeFedCluster.
pub fn host_objects(
    cluster: &str,
    fed_ns: &str,
    endpoint: &crate::kubeconfig::ClusterEndpoint,
    token: &[u8],
    mut cluster_labels: BTreeMap<String, String>,
    is_host: bool,
) -> Result<(Obj, Obj)> {
    let names = MemberNames::for_cluster(cluster);
    let secret = Secret {
        metadata: member_meta(&names.host_secret, Some(fed_ns), cluster),
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([("token".to_string(), ByteString(token.to_vec()))])),
        ..Default::default()
    };
    if is_host {
        cluster_labels.insert(HOST_LABEL.to_string(), "true".to_string());
    }
    let mut kfc = KubeFedCluster::new(
        cluster,
        KubeFedClusterSpec {
            api_endpoint: endpoint.server.clone(),
            ca_bundle: endpoint.ca_pem.as_deref().map(crate::b64::encode),
            secret_ref: LocalSecretReference { name: names.host_secret.clone() },
            disabled_tls_validations: if endpoint.insecure { vec!["*".to_string()] } else { Vec::new() },
        },
    );
    kfc.metadata.namespace = Some(fed_ns.to_string());
    kfc.metadata.labels = Some(cluster_labels);
    Ok((Obj::typed(&secret)?, Obj::typed(&kfc)?))
}

pub async fn run(ctx: &Ctx, opts: JoinOptions) -> Result<()> {
    let cluster_labels = opts.validate()?;
    let name = opts.name.as_str();
    let member_context = opts.cluster_context.clone().unwrap_or_else(|| name.to_string());
    let member_endpoint = ctx.endpoint(&member_context).with_context(|| format!("cluster {name}"))?;
    let host_endpoint = ctx.endpoint(&ctx.host_context)?;
    let is_host = normalize_server(&member_endpoint.server) == normalize_server(&host_endpoint.server);

    let host_client = ctx.host().await?;
    let fed_ns = ctx.fed_ns();
    let configs = fedapi::type_configs(&host_client, fed_ns, &ctx.host_context).await?;
    let clusters = fedapi::clusters(&host_client, fed_ns, &ctx.host_context).await?;
    if clusters.iter().any(|c| c.name_any() == name) && !opts.overwrite {
        bail!("cluster {name:?} is already joined (KubeFedCluster {fed_ns}/{name}); pass --overwrite to replace it");
    }
    if let Some(other) = clusters.iter().find(|c| {
        c.name_any() != name && normalize_server(&c.spec.api_endpoint) == normalize_server(&member_endpoint.server)
    }) {
        output::warn(format!("{} is already joined as cluster {:?}", member_endpoint.server, other.name_any()));
    }
    let targets = fedapi::enabled_targets(&configs);

    let member_client = ctx.client_for(&member_context).await?;
    let mut member = Writer::new(member_client.clone(), ctx).labelled(name);
    let objects = member_objects(name, fed_ns, &targets)?;
    let (namespace, rest) = objects.split_first().expect("member objects");
    // Right after an unjoin the namespace may still be terminating; nothing can be created in it.
    let namespaces: Api<Namespace> = Api::all(member_client.clone());
    if namespaces.get_metadata_opt(fed_ns).await?.is_some_and(|ns| ns.metadata.deletion_timestamp.is_some()) {
        let wait = Duration::from_secs(opts.token_timeout);
        if !member.wait_namespaces_gone(&[fed_ns.to_string()], wait).await?.is_empty() {
            bail!(
                "namespace {fed_ns} on cluster {name} is still terminating after {}s; retry when it is gone",
                wait.as_secs()
            );
        }
    }
    member.create_if_absent(namespace).await?;
    let (token_secret, rbac) = rest.split_last().expect("member objects");
    for obj in rbac {
        member.apply(obj).await?;
    }
    member.create_if_absent(token_secret).await?;
    let token = if member.dry_run().active() {
        b"<the token of the member's service account>".to_vec()
    } else {
        member.step(format!(
            "waiting for the token of serviceaccount/{}",
            MemberNames::for_cluster(name).service_account
        ));
        wait_token(
            &member_client,
            fed_ns,
            &MemberNames::for_cluster(name).token_secret,
            Duration::from_secs(opts.token_timeout),
        )
        .await
        .with_context(|| format!("cluster {name} (context {member_context})"))?
    };

    let mut host = Writer::new(host_client, ctx).labelled(&ctx.host_context);
    let (secret, kfc) = host_objects(name, fed_ns, &member_endpoint, &token, cluster_labels, is_host)?;
    host.apply(&secret).await?;
    host.apply(&kfc).await?;
    if !host.dry_run().active() && ctx.output().is_none_or(|o| !o.is_document()) {
        let note = if is_host { " (the host cluster itself; labelled kubefed.io/host=true)" } else { "" };
        println!("cluster {name} joined: {}{note}", member_endpoint.server);
    }
    // -o yaml|json: member objects first, then the host's.
    member.absorb(&mut host);
    member.finish()
}

/// Wait until the token controller has filled in the Secret's `token`.
async fn wait_token(client: &Client, ns: &str, secret: &str, timeout: Duration) -> Result<Vec<u8>> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let token =
        |s: &Secret| s.data.as_ref().and_then(|d| d.get("token")).filter(|t| !t.0.is_empty()).map(|t| t.0.clone());
    let filled = |s: Option<&Secret>| s.and_then(token).is_some();
    let deadline = tokio::time::Instant::now() + timeout;
    match waiting::until(api, secret, deadline, filled)
        .await
        .with_context(|| format!("reading secret {ns}/{secret}"))?
    {
        Some(Some(s)) => Ok(token(&s).unwrap_or_default()),
        _ => bail!(
            "secret {ns}/{secret} got no token within {}s: is the member's kube-controller-manager running (with --service-account-private-key-file)?",
            timeout.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_validated() {
        let got = parse_labels(&["region=eu".into(), "tier=".into()]).unwrap();
        assert_eq!(got, BTreeMap::from([("region".into(), "eu".into()), ("tier".into(), "".into())]));
        assert!(parse_labels(&["region".into()]).unwrap_err().to_string().contains("KEY=VALUE"));
        assert!(parse_labels(&["kubefed.io/host=true".into()]).is_err());
        assert!(parse_labels(&["bad key=x".into()]).is_err());
    }

    #[test]
    fn host_objects_carry_endpoint_ca_and_host_label() {
        let ep = crate::kubeconfig::ClusterEndpoint {
            server: "https://127.0.0.1:16443".into(),
            ca_pem: Some(b"PEM".to_vec()),
            insecure: false,
        };
        let (secret, kfc) = host_objects(
            "earth",
            "kube-federation-system",
            &ep,
            b"tok",
            BTreeMap::from([("region".into(), "eu".into())]),
            true,
        )
        .unwrap();
        let s = secret.to_value();
        assert_eq!(s["metadata"]["name"], "earth-token");
        assert_eq!(s["data"]["token"], "dG9r");
        let k = kfc.to_value();
        assert_eq!(k["spec"]["apiEndpoint"], "https://127.0.0.1:16443");
        assert_eq!(k["spec"]["caBundle"], "UEVN");
        assert_eq!(k["spec"]["secretRef"]["name"], "earth-token");
        assert_eq!(k["metadata"]["labels"]["kubefed.io/host"], "true");
        assert_eq!(k["metadata"]["labels"]["region"], "eu");
        assert_eq!(k["kind"], "KubeFedCluster");
    }

    #[test]
    fn member_objects_are_named_after_the_cluster() {
        let objs = member_objects("vulcan", "kube-federation-system", &[]).unwrap();
        let names: Vec<String> = objs.iter().map(Obj::display).collect();
        assert_eq!(
            names,
            [
                "namespace/kube-federation-system",
                "serviceaccount/kubefed-vulcan",
                "clusterrole.rbac.authorization.k8s.io/kubefed:member:vulcan",
                "clusterrolebinding.rbac.authorization.k8s.io/kubefed:member:vulcan",
                "secret/kubefed-vulcan-token",
            ]
        );
        assert_eq!(objs[0].to_value()["metadata"]["labels"][CREATED_BY_JOIN_LABEL], "vulcan");
        assert_eq!(objs[4].to_value()["type"], "kubernetes.io/service-account-token");
    }
}
