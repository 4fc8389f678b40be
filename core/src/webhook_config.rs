//! The Mutating and Validating webhook configurations that register fed-webhook with the host
//! apiserver.
//!
//! One function, [`webhook_configurations`], produces both the local form (`clientConfig.url`,
//! used by the test bed with a CA generated at start) and the in-cluster form
//! (`clientConfig.service`, shipped in `manifests/webhook/` and used by `kubectl fed install`),
//! so the two can never disagree about rules, match conditions or policies.

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MatchCondition, MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations, ServiceReference,
    ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::api::{CORE_GROUP, SCHEDULING_GROUP, TYPES_GROUP};
use crate::keys;

/// Name of both configuration objects.
pub const CONFIGURATION_NAME: &str = "kubectl-fed";
/// Name of the mutating webhook inside its configuration.
pub const MUTATING_WEBHOOK_NAME: &str = "mutate.kubefed.io";
/// Name of the validating webhook inside its configuration.
pub const VALIDATING_WEBHOOK_NAME: &str = "validate.kubefed.io";
/// Name of the follow webhook (second in the mutating configuration).
pub const FOLLOW_WEBHOOK_NAME: &str = "follow-namespace.kubefed.io";
/// HTTP path of the follow endpoint.
pub const FOLLOW_PATH: &str = "/follow";
/// Name of the follow webhook's match condition.
pub const FOLLOW_MATCH_CONDITION_NAME: &str = "followed-objects";
/// HTTP path of the mutating endpoint.
pub const MUTATE_PATH: &str = "/mutate";
/// HTTP path of the validating endpoint.
pub const VALIDATE_PATH: &str = "/validate";
/// Name of the in-cluster Service in front of the webhook pods.
pub const SERVICE_NAME: &str = "kubectl-fed-webhook";
/// Port of that Service (it forwards to the pods' 9443).
pub const SERVICE_PORT: i32 = 443;
/// Seconds the apiserver waits for an answer before applying the failure policy.
pub const TIMEOUT_SECONDS: i32 = 5;

/// Name of the match condition that selects what each webhook reviews.
pub const MATCH_CONDITION_NAME: &str = "kubefed-objects";
/// Name of the validating webhook's second match condition, which lets the controllers' own
/// writes of Federated objects through unreviewed.
pub const CONTROLLERS_MATCH_CONDITION_NAME: &str = "not-written-by-the-controllers";
/// The ServiceAccount the host component runs as (in the federation namespace).
pub const SERVICE_ACCOUNT_NAME: &str = "kubectl-fed-webhook";

/// The user name the controllers write as: their ServiceAccount in `federation_namespace`.
pub fn controllers_username(federation_namespace: &str) -> String {
    format!("system:serviceaccount:{federation_namespace}:{SERVICE_ACCOUNT_NAME}")
}

/// Where the apiserver sends admission requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebhookTarget {
    /// A URL reachable from the apiserver (local test bed: `https://127.0.0.1:9443`); the
    /// endpoint paths are appended.
    Url(String),
    /// An in-cluster Service.
    Service {
        /// Namespace of the Service (the federation namespace).
        namespace: String,
        /// Service name.
        name: String,
        /// Service port.
        port: i32,
    },
}

impl WebhookTarget {
    /// The in-cluster Service of the standard installation in `namespace`.
    pub fn in_cluster(namespace: &str) -> Self {
        WebhookTarget::Service { namespace: namespace.to_string(), name: SERVICE_NAME.to_string(), port: SERVICE_PORT }
    }

    fn client_config(&self, path: &str, ca_bundle: Option<&[u8]>) -> WebhookClientConfig {
        let ca_bundle = ca_bundle.map(|b| ByteString(b.to_vec()));
        match self {
            WebhookTarget::Url(base) => WebhookClientConfig {
                url: Some(format!("{}{path}", base.trim_end_matches('/'))),
                ca_bundle,
                service: None,
            },
            WebhookTarget::Service { namespace, name, port } => WebhookClientConfig {
                url: None,
                ca_bundle,
                service: Some(ServiceReference {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    path: Some(path.to_string()),
                    port: Some(*port),
                }),
            },
        }
    }
}

/// The mutating and validating configurations, both named [`CONFIGURATION_NAME`].
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfigurations {
    /// `mutate.kubefed.io` → `/mutate`, then `follow-namespace.kubefed.io` → `/follow`.
    pub mutating: MutatingWebhookConfiguration,
    /// `validate.kubefed.io` → `/validate`.
    pub validating: ValidatingWebhookConfiguration,
}

/// CEL that lets a request through to the mutating webhook only for objects that carry (or,
/// on UPDATE, carried) a `kubefed.io/` annotation and that no other object controls (see
/// [`crate::admission::controlled`]: a Deployment's ReplicaSets inherit its annotations).
/// Everything else never pays for the webhook and is unaffected when it is down. The mutating
/// endpoint changes nothing in our own API groups, so their writes (the controllers' included)
/// skip it.
///
/// `object` is null on DELETE and `oldObject` on CREATE (only CREATE and UPDATE are matched
/// today, but the guards keep the expression total); `metadata.annotations` may be absent.
pub fn mutating_match_expression() -> String {
    let annotated = |var: &str| {
        format!(
            "({var} != null && has({var}.metadata) && has({var}.metadata.annotations) && \
             {var}.metadata.annotations.exists(k, k.startsWith('{prefix}')))",
            prefix = keys::PREFIX
        )
    };
    format!("!{CONTROLLED} && ({} || {})", annotated("object"), annotated("oldObject"))
}

/// CEL: another object controls the object under review ([`crate::admission::controlled`]).
const CONTROLLED: &str = "(object != null && has(object.metadata) && has(object.metadata.ownerReferences) && \
                          object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller))";

/// CEL for the follow webhook: objects no other object controls (a Deployment's ReplicaSets and
/// their Pods never reach it), of types that can be a namespace's own contents
/// ([`crate::contents::skip_type_cel`]: Events, Endpoints, … never pay for the webhook).
pub fn follow_match_expression() -> String {
    format!("!{CONTROLLED} && !{}", crate::contents::skip_type_cel())
}

/// The follow webhook: CREATEs of namespaced objects in namespaces labelled
/// `kubefed.io/follow=true`. Failure policy Fail: while fed-webhook cannot answer, nothing is
/// created unfederated in a followed namespace (docs/SECURITY.md).
fn follow_webhook(target: &WebhookTarget, ca_bundle: Option<&[u8]>) -> MutatingWebhook {
    let rules = vec![RuleWithOperations {
        api_groups: Some(vec!["*".to_string()]),
        api_versions: Some(vec!["*".to_string()]),
        resources: Some(vec!["*".to_string()]),
        operations: Some(vec!["CREATE".to_string()]),
        scope: Some("Namespaced".to_string()),
    }];
    let followed = LabelSelector {
        match_labels: Some([(keys::FOLLOW.to_string(), "true".to_string())].into()),
        ..Default::default()
    };
    mutating_webhook(
        FOLLOW_WEBHOOK_NAME,
        target.client_config(FOLLOW_PATH, ca_bundle),
        rules,
        vec![condition(FOLLOW_MATCH_CONDITION_NAME, follow_match_expression())],
        Some(followed),
    )
}

/// A mutating webhook with the policies every one of ours shares: failure policy Fail, no side
/// effects, admission/v1, [`TIMEOUT_SECONDS`], no reinvocation.
fn mutating_webhook(
    name: &str,
    client_config: WebhookClientConfig,
    rules: Vec<RuleWithOperations>,
    match_conditions: Vec<MatchCondition>,
    namespace_selector: Option<LabelSelector>,
) -> MutatingWebhook {
    MutatingWebhook {
        name: name.to_string(),
        client_config,
        rules: Some(rules),
        match_conditions: Some(match_conditions),
        match_policy: Some("Equivalent".to_string()),
        failure_policy: Some("Fail".to_string()),
        side_effects: "None".to_string(),
        admission_review_versions: vec!["v1".to_string()],
        timeout_seconds: Some(TIMEOUT_SECONDS),
        reinvocation_policy: Some("Never".to_string()),
        namespace_selector,
        object_selector: None,
    }
}

/// CEL for the validating webhook: what [`mutating_match_expression`] lets through, plus every
/// object of our own API groups and every ReplicaSchedulingPreference (checked whoever writes
/// them).
pub fn validating_match_expression() -> String {
    format!(
        "request.resource.group == '{TYPES_GROUP}' || request.resource.group == '{CORE_GROUP}' || \
         request.resource.group == '{SCHEDULING_GROUP}' || ({})",
        mutating_match_expression()
    )
}

/// CEL for the validating webhook's second condition: false only for a write of a Federated
/// object (group `types.kubefed.io`) by `controllers` (a user name). Those objects come from a
/// source, an RSP or a Federated object that admission already checked (materialize, the replica
/// division, the sync finalizer, the follow label), so the round trip would check nothing new.
/// Every other user, a namespace's other ServiceAccounts included, is still reviewed.
pub fn controllers_match_expression(controllers: &str) -> String {
    format!("!(request.userInfo.username == '{controllers}' && request.resource.group == '{TYPES_GROUP}')")
}

fn rules() -> Vec<RuleWithOperations> {
    vec![RuleWithOperations {
        api_groups: Some(vec!["*".to_string()]),
        api_versions: Some(vec!["*".to_string()]),
        // Top-level resources only: status and other subresources never reach the webhook,
        // so controllers can always write status.
        resources: Some(vec!["*".to_string()]),
        operations: Some(vec!["CREATE".to_string(), "UPDATE".to_string()]),
        scope: Some("*".to_string()),
    }]
}

fn condition(name: &str, expression: String) -> MatchCondition {
    MatchCondition { name: name.to_string(), expression }
}

fn metadata() -> ObjectMeta {
    ObjectMeta {
        name: Some(CONFIGURATION_NAME.to_string()),
        labels: Some(
            [
                ("app.kubernetes.io/name".to_string(), "kubectl-fed".to_string()),
                ("app.kubernetes.io/component".to_string(), "webhook".to_string()),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Both webhook configurations for `target`, trusting `ca_bundle` (PEM) when given, for
/// controllers running as [`controllers_username`] of `federation_namespace`.
///
/// The in-cluster form is usually rendered without a CA bundle (the installer fills it in);
/// without one the apiserver trusts only its system roots.
pub fn webhook_configurations(
    target: &WebhookTarget,
    ca_bundle: Option<&[u8]>,
    federation_namespace: &str,
) -> WebhookConfigurations {
    let mutating = MutatingWebhookConfiguration {
        metadata: metadata(),
        webhooks: Some(vec![
            mutating_webhook(
                MUTATING_WEBHOOK_NAME,
                target.client_config(MUTATE_PATH, ca_bundle),
                rules(),
                vec![condition(MATCH_CONDITION_NAME, mutating_match_expression())],
                None,
            ),
            follow_webhook(target, ca_bundle),
        ]),
    };
    let validating = ValidatingWebhookConfiguration {
        metadata: metadata(),
        webhooks: Some(vec![ValidatingWebhook {
            name: VALIDATING_WEBHOOK_NAME.to_string(),
            client_config: target.client_config(VALIDATE_PATH, ca_bundle),
            rules: Some(rules()),
            match_conditions: Some(vec![
                condition(MATCH_CONDITION_NAME, validating_match_expression()),
                condition(
                    CONTROLLERS_MATCH_CONDITION_NAME,
                    controllers_match_expression(&controllers_username(federation_namespace)),
                ),
            ]),
            match_policy: Some("Equivalent".to_string()),
            failure_policy: Some("Fail".to_string()),
            side_effects: "None".to_string(),
            admission_review_versions: vec!["v1".to_string()],
            timeout_seconds: Some(TIMEOUT_SECONDS),
            namespace_selector: None,
            object_selector: None,
        }]),
    };
    WebhookConfigurations { mutating, validating }
}

impl WebhookConfigurations {
    /// Both objects as a two-document YAML stream (mutating first).
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        Ok(format!("{}---\n{}", serde_yaml::to_string(&self.mutating)?, serde_yaml::to_string(&self.validating)?))
    }

    /// Both objects as a `v1` `List` (what `kubectl apply -f -` accepts as JSON).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let list = serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [serde_json::to_value(&self.mutating)?, serde_json::to_value(&self.validating)?],
        });
        serde_json::to_string_pretty(&list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> WebhookConfigurations {
        webhook_configurations(&WebhookTarget::Url("https://127.0.0.1:9443/".into()), Some(b"PEM"), "x")
    }

    #[test]
    fn url_form_appends_the_endpoint_paths() {
        let c = local();
        let m = &c.mutating.webhooks.as_ref().unwrap()[0];
        let v = &c.validating.webhooks.as_ref().unwrap()[0];
        assert_eq!(m.client_config.url.as_deref(), Some("https://127.0.0.1:9443/mutate"));
        assert_eq!(v.client_config.url.as_deref(), Some("https://127.0.0.1:9443/validate"));
        assert_eq!(m.client_config.ca_bundle, Some(ByteString(b"PEM".to_vec())));
        assert!(m.client_config.service.is_none());
    }

    #[test]
    fn service_form_points_at_the_service() {
        let c = webhook_configurations(
            &WebhookTarget::in_cluster(keys::FEDERATION_NAMESPACE),
            None,
            keys::FEDERATION_NAMESPACE,
        );
        let v = &c.validating.webhooks.as_ref().unwrap()[0];
        let svc = v.client_config.service.as_ref().unwrap();
        assert_eq!((svc.namespace.as_str(), svc.name.as_str()), (keys::FEDERATION_NAMESPACE, SERVICE_NAME));
        assert_eq!((svc.path.as_deref(), svc.port), (Some(VALIDATE_PATH), Some(443)));
        assert!(v.client_config.url.is_none() && v.client_config.ca_bundle.is_none());
    }

    #[test]
    fn both_forms_share_rules_conditions_and_policies() {
        let a = local();
        let b = webhook_configurations(&WebhookTarget::in_cluster("x"), None, "x");
        let (ma, mb) = (&a.mutating.webhooks.as_ref().unwrap()[0], &b.mutating.webhooks.as_ref().unwrap()[0]);
        assert_eq!(ma.rules, mb.rules);
        assert_eq!(ma.match_conditions, mb.match_conditions);
        assert_eq!(ma.name, MUTATING_WEBHOOK_NAME);
        assert_eq!(ma.failure_policy.as_deref(), Some("Fail"));
        assert_eq!(ma.side_effects, "None");
        assert_eq!(ma.admission_review_versions, vec!["v1"]);
        assert_eq!(ma.timeout_seconds, Some(5));
        assert_eq!(ma.reinvocation_policy.as_deref(), Some("Never"));
        let va = &a.validating.webhooks.as_ref().unwrap()[0];
        assert_eq!(va.name, VALIDATING_WEBHOOK_NAME);
        assert_eq!(va.rules, ma.rules);
        assert_eq!(va.match_conditions.as_ref().unwrap()[0].expression, validating_match_expression());
        assert_eq!(ma.match_conditions.as_ref().unwrap()[0].expression, mutating_match_expression());
        assert_eq!(va.match_conditions.as_ref().unwrap()[0].name, ma.match_conditions.as_ref().unwrap()[0].name);
        assert_eq!(a.mutating.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        assert_eq!(a.validating.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        let rule = &ma.rules.as_ref().unwrap()[0];
        assert_eq!(rule.operations.as_ref().unwrap(), &vec!["CREATE".to_string(), "UPDATE".to_string()]);
        assert_eq!(rule.scope.as_deref(), Some("*"));
    }

    #[test]
    fn match_expressions_guard_nulls_skip_controlled_objects_and_name_our_groups() {
        let m = mutating_match_expression();
        assert!(m.contains("object != null && has(object.metadata) && has(object.metadata.annotations)"), "{m}");
        assert!(m.contains("oldObject != null && has(oldObject.metadata)"), "{m}");
        assert!(m.contains("k.startsWith('kubefed.io/')"), "{m}");
        assert!(
            m.starts_with("!(object != null && has(object.metadata) && has(object.metadata.ownerReferences)"),
            "{m}"
        );
        assert!(m.contains("exists(r, has(r.controller) && r.controller)"), "{m}");
        assert!(!m.contains("kubefed.io'"), "the mutating webhook changes nothing of ours: {m}");
        let v = validating_match_expression();
        assert!(v.contains("'types.kubefed.io'") && v.contains("'core.kubefed.io'"), "{v}");
        assert!(v.ends_with(&format!("({m})")), "{v}");
        for e in [&m, &v] {
            assert_eq!(e.matches('(').count(), e.matches(')').count());
        }
    }

    #[test]
    fn the_follow_webhook_selects_followed_namespaces_and_new_uncontrolled_objects() {
        for c in [local(), webhook_configurations(&WebhookTarget::in_cluster("x"), None, "x")] {
            let hooks = c.mutating.webhooks.as_ref().unwrap();
            assert_eq!(hooks[0].name, MUTATING_WEBHOOK_NAME, "the mutating webhook stays first");
            let f = &hooks[1];
            assert_eq!(f.name, FOLLOW_WEBHOOK_NAME);
            let path = f.client_config.url.clone().or(f.client_config.service.as_ref().and_then(|s| s.path.clone()));
            assert!(path.unwrap().ends_with(FOLLOW_PATH));
            assert_eq!(f.failure_policy.as_deref(), Some("Fail"));
            let labels = f.namespace_selector.as_ref().unwrap().match_labels.clone().unwrap();
            assert_eq!(labels.get(keys::FOLLOW).map(String::as_str), Some("true"));
            let rule = &f.rules.as_ref().unwrap()[0];
            assert_eq!(rule.operations.as_deref(), Some(&["CREATE".to_string()][..]));
            assert_eq!(rule.scope.as_deref(), Some("Namespaced"));
            let cond = &f.match_conditions.as_ref().unwrap()[0];
            assert_eq!(cond.expression, follow_match_expression());
        }
        let e = follow_match_expression();
        assert!(
            e.starts_with("!(object != null && has(object.metadata) && has(object.metadata.ownerReferences)"),
            "{e}"
        );
        assert!(e.contains("request.kind.group in ['types.kubefed.io'"), "{e}");
        assert!(e.contains("'/Event'") && e.contains("'discovery.k8s.io/EndpointSlice'"), "{e}");
        assert_eq!(e.matches('(').count(), e.matches(')').count());
    }

    #[test]
    fn only_the_validating_webhook_lets_the_controllers_own_federated_writes_through() {
        let user = controllers_username("kube-federation-system");
        assert_eq!(user, "system:serviceaccount:kube-federation-system:kubectl-fed-webhook");
        let e = controllers_match_expression(&user);
        assert_eq!(
            e,
            "!(request.userInfo.username == 'system:serviceaccount:kube-federation-system:kubectl-fed-webhook' \
             && request.resource.group == 'types.kubefed.io')"
        );
        for (c, ns) in [(local(), "x"), (webhook_configurations(&WebhookTarget::in_cluster("y"), None, "y"), "y")] {
            let v = &c.validating.webhooks.as_ref().unwrap()[0];
            let conditions = v.match_conditions.as_ref().unwrap();
            assert_eq!(conditions.len(), 2, "both must hold for a review");
            assert_eq!(conditions[1].name, CONTROLLERS_MATCH_CONDITION_NAME);
            assert_eq!(conditions[1].expression, controllers_match_expression(&controllers_username(ns)));
            for m in c.mutating.webhooks.as_ref().unwrap() {
                let names: Vec<_> = m.match_conditions.iter().flatten().map(|c| c.name.as_str()).collect();
                assert!(!names.contains(&CONTROLLERS_MATCH_CONDITION_NAME), "{}: {names:?}", m.name);
            }
        }
    }

    #[test]
    fn the_host_manifests_run_the_component_as_this_service_account() {
        let rbac = include_str!("../../manifests/host/rbac.yaml");
        assert!(rbac.contains(&format!("kind: ServiceAccount\nmetadata:\n  name: {SERVICE_ACCOUNT_NAME}\n")), "{rbac}");
        let deployment = include_str!("../../manifests/host/deployment.yaml");
        assert!(deployment.contains(&format!("serviceAccountName: {SERVICE_ACCOUNT_NAME}\n")), "{deployment}");
    }

    #[test]
    fn serializes_with_type_meta() {
        let yaml = local().to_yaml().unwrap();
        assert!(yaml.contains("kind: MutatingWebhookConfiguration"), "{yaml}");
        assert!(yaml.contains("kind: ValidatingWebhookConfiguration"), "{yaml}");
        assert!(yaml.contains("apiVersion: admissionregistration.k8s.io/v1"), "{yaml}");
        let json: serde_json::Value = serde_json::from_str(&local().to_json().unwrap()).unwrap();
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"][0]["webhooks"][0]["clientConfig"]["caBundle"], "UEVN");
    }
}
