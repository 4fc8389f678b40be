//! A namespace's own contents: which objects in a namespace are the user's, and so are
//! federated with it. One rule, used by `kubectl fed federate namespace NS --contents` (existing
//! objects) and by the follow webhook (new objects, [`crate::admission::follow`]): what
//! controllers make (whole types such as Events and EndpointSlices, objects a controller owns,
//! the `default` ServiceAccount, `kube-root-ca.crt`, service-account token Secrets) and what is
//! federated already (member copies the federation wrote, annotated sources) are left out.

use std::collections::BTreeMap;

use kube::core::ObjectMeta;

use crate::annotations::is_source;
use crate::api::{CORE_GROUP, TYPES_GROUP};
use crate::keys::MANAGED_LABEL;

/// API groups none of whose objects are a namespace's own.
pub const SKIPPED_GROUPS: [&str; 4] = [TYPES_GROUP, CORE_GROUP, "events.k8s.io", "metrics.k8s.io"];

/// Types (group, kind) whose objects controllers make.
pub const SKIPPED_KINDS: [(&str, &str); 6] = [
    ("", "Event"),
    ("", "Endpoints"),
    ("", "Binding"),
    ("discovery.k8s.io", "EndpointSlice"),
    ("coordination.k8s.io", "Lease"),
    ("apps", "ControllerRevision"),
];

/// Why an object is not one of its namespace's own contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Its whole type is made by controllers ([`skip_type`]).
    ControllerType,
    /// A controller owns it.
    ControllerOwned,
    /// The namespace's `default` ServiceAccount.
    DefaultServiceAccount,
    /// `kube-root-ca.crt`.
    RootCa,
    /// A service account token Secret.
    TokenSecret,
    /// A member copy the federation wrote.
    FederationCopy,
    /// An annotated source.
    AnnotatedSource,
}

impl Skip {
    /// Why, for messages.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::ControllerType => "made by a controller",
            Skip::ControllerOwned => "owned by a controller",
            Skip::DefaultServiceAccount => "the default ServiceAccount",
            Skip::RootCa => "published by the root CA controller",
            Skip::TokenSecret => "a token Secret",
            Skip::FederationCopy => "a copy written by the federation",
            Skip::AnnotatedSource => "federated through its kubefed.io/ annotations",
        }
    }

    /// True when the object is federated already: `federate TYPE NAME` refuses it.
    pub fn federated_already(self) -> bool {
        matches!(self, Skip::FederationCopy | Skip::AnnotatedSource)
    }
}

/// True when no object of this type (API group, kind) is a namespace's own.
pub fn skip_type(group: &str, kind: &str) -> bool {
    SKIPPED_GROUPS.contains(&group) || SKIPPED_KINDS.contains(&(group, kind))
}

/// Why the object (of API group `group`, kind `kind`, with `metadata` and, for a Secret, its
/// `type`) is not one of its namespace's own contents, if it is not.
pub fn skip_reason(group: &str, kind: &str, metadata: &ObjectMeta, secret_type: Option<&str>) -> Option<Skip> {
    if skip_type(group, kind) {
        return Some(Skip::ControllerType);
    }
    if metadata.owner_references.iter().flatten().any(|r| r.controller == Some(true)) {
        return Some(Skip::ControllerOwned);
    }
    let name = metadata.name.as_deref().unwrap_or_default();
    match (group, kind) {
        ("", "ServiceAccount") if name == "default" => return Some(Skip::DefaultServiceAccount),
        ("", "ConfigMap") if name == "kube-root-ca.crt" => return Some(Skip::RootCa),
        ("", "Secret") if secret_type == Some("kubernetes.io/service-account-token") => {
            return Some(Skip::TokenSecret);
        }
        _ => {}
    }
    let empty = BTreeMap::new();
    if metadata.labels.as_ref().unwrap_or(&empty).get(MANAGED_LABEL).is_some_and(|v| v == "true") {
        return Some(Skip::FederationCopy);
    }
    if is_source(metadata.annotations.as_ref().unwrap_or(&empty)) {
        return Some(Skip::AnnotatedSource);
    }
    None
}

/// [`skip_type`] as a CEL expression over an admission request (true when the type is
/// skipped), for webhook match conditions: requests for such types never reach the webhook.
pub fn skip_type_cel() -> String {
    let quoted = |items: Vec<String>| items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", ");
    let groups = quoted(SKIPPED_GROUPS.iter().map(|g| g.to_string()).collect());
    let kinds = quoted(SKIPPED_KINDS.iter().map(|(g, k)| format!("{g}/{k}")).collect());
    format!("(request.kind.group in [{groups}] || (request.kind.group + '/' + request.kind.kind) in [{kinds}])")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: Some("demo".into()), ..Default::default() }
    }

    fn owner(controller: Option<bool>) -> OwnerReference {
        OwnerReference { kind: "Deployment".into(), name: "web".into(), controller, ..Default::default() }
    }

    #[test]
    fn what_controllers_make_and_what_is_federated_already_is_skipped() {
        let owned = ObjectMeta { owner_references: Some(vec![owner(Some(true))]), ..meta("web-abc") };
        let gc_only = ObjectMeta { owner_references: Some(vec![owner(None)]), ..meta("x") };
        let copy = ObjectMeta { labels: Some([(MANAGED_LABEL.into(), "true".into())].into()), ..meta("web") };
        let source =
            ObjectMeta { annotations: Some([(crate::keys::PLACEMENT.into(), "vulcan".into())].into()), ..meta("web") };
        let only_overrides =
            ObjectMeta { annotations: Some([(crate::keys::OVERRIDES.into(), "{}".into())].into()), ..meta("web") };
        let token = Some("kubernetes.io/service-account-token");
        /// (group, kind), metadata, Secret type, the skip expected.
        type Case<'a> = ((&'a str, &'a str), ObjectMeta, Option<&'a str>, Option<Skip>);
        let cases: Vec<Case> = vec![
            (("apps", "ReplicaSet"), owned.clone(), None, Some(Skip::ControllerOwned)),
            (("", "Pod"), owned, None, Some(Skip::ControllerOwned)),
            (("", "ConfigMap"), gc_only, None, None),
            (("", "ConfigMap"), meta("kube-root-ca.crt"), None, Some(Skip::RootCa)),
            (("", "ConfigMap"), meta("settings"), None, None),
            (("", "ServiceAccount"), meta("default"), None, Some(Skip::DefaultServiceAccount)),
            (("", "ServiceAccount"), meta("robot"), None, None),
            (("", "Secret"), meta("t"), token, Some(Skip::TokenSecret)),
            (("", "Secret"), meta("t"), Some("Opaque"), None),
            (("", "Endpoints"), meta("x"), None, Some(Skip::ControllerType)),
            (("discovery.k8s.io", "EndpointSlice"), meta("x"), None, Some(Skip::ControllerType)),
            (("", "Event"), meta("x"), None, Some(Skip::ControllerType)),
            (("events.k8s.io", "Event"), meta("x"), None, Some(Skip::ControllerType)),
            (("coordination.k8s.io", "Lease"), meta("x"), None, Some(Skip::ControllerType)),
            (("apps", "ControllerRevision"), meta("x"), None, Some(Skip::ControllerType)),
            ((TYPES_GROUP, "FederatedDeployment"), meta("x"), None, Some(Skip::ControllerType)),
            ((CORE_GROUP, "KubeFedCluster"), meta("x"), None, Some(Skip::ControllerType)),
            (("apps", "Deployment"), copy, None, Some(Skip::FederationCopy)),
            (("apps", "Deployment"), source, None, Some(Skip::AnnotatedSource)),
            (("apps", "Deployment"), only_overrides, None, None),
            (("apps", "Deployment"), meta("web"), None, None),
            (("", "Pod"), meta("bare"), None, None),
        ];
        for ((group, kind), m, secret_type, want) in cases {
            assert_eq!(skip_reason(group, kind, &m, secret_type), want, "{group}/{kind} {:?}", m.name);
        }
        assert!(Skip::AnnotatedSource.federated_already() && Skip::FederationCopy.federated_already());
        assert!(!Skip::ControllerOwned.federated_already());
    }

    #[test]
    fn the_cel_form_names_every_skipped_group_and_kind() {
        let cel = skip_type_cel();
        for g in SKIPPED_GROUPS {
            assert!(cel.contains(&format!("'{g}'")), "{cel}");
        }
        for (g, k) in SKIPPED_KINDS {
            assert!(cel.contains(&format!("'{g}/{k}'")), "{cel}");
        }
        assert!(cel.contains("'/Event'") && !cel.contains("'apps/Deployment'"), "{cel}");
        assert_eq!(cel.matches('(').count(), cel.matches(')').count());
    }
}
