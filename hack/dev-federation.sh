#!/usr/bin/env bash
# Development federation on the local test bed, without `kubectl fed` (to be replaced by
# `kubectl fed join` / `enable` later):
#
#   hack/dev-federation.sh up     CRDs, federation namespace, every cluster joined (member-side
#                                 ServiceAccount + cluster-admin binding + token Secret; host-side
#                                 token Secret + KubeFedCluster; earth labelled kubefed.io/host=true),
#                                 FederatedTypeConfigs deployments.apps, services, configmaps,
#                                 namespaces
#   hack/dev-federation.sh down   removes what `up` created (KubeFedClusters, type configs, secrets,
#                                 member service accounts/bindings); CRDs stay
#
# FED_NAMESPACE (default kube-federation-system) is the federation namespace. Idempotent.
# Run the controllers against it with:
#   cargo run -p fed-webhook --example controllers -- --kubeconfig .local/kubeconfig --context earth
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
export KUBECONFIG="$KUBECONFIG_PATH"
NS="${FED_NAMESPACE:-kube-federation-system}"
HOST=earth
SA=kubectl-fed-dev
k() { kubectl --context "$@"; }

up() {
  [[ -s "$KUBECONFIG_PATH" ]] || die "no $KUBECONFIG_PATH; run hack/cluster-up.sh"
  k "$HOST" apply -f "$REPO_ROOT/manifests/crds/" >/dev/null
  k "$HOST" wait --for=condition=Established --timeout=30s -f "$REPO_ROOT/manifests/crds/" >/dev/null
  for c in "${CLUSTERS[@]}"; do
    # Member side: a service account with cluster-admin and a long-lived token.
    k "$c" create namespace "$NS" --dry-run=client -o yaml | k "$c" apply -f - >/dev/null
    k "$c" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: $SA, namespace: $NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: $SA-$NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: $SA, namespace: $NS}]
---
apiVersion: v1
kind: Secret
type: kubernetes.io/service-account-token
metadata:
  name: $SA-token
  namespace: $NS
  annotations: {kubernetes.io/service-account.name: $SA}
EOF
    token=""
    for _ in $(seq 100); do
      token="$(k "$c" -n "$NS" get secret "$SA-token" -o jsonpath='{.data.token}')"
      [[ -n "$token" ]] && break
      sleep 0.2
    done
    [[ -n "$token" ]] || die "$c: kube-controller-manager did not fill secret $SA-token"
    server="$(kubectl config view --raw -o jsonpath="{.clusters[?(@.name==\"$c\")].cluster.server}")"
    ca="$(kubectl config view --raw -o jsonpath="{.clusters[?(@.name==\"$c\")].cluster.certificate-authority-data}")"
    # Host side: the token Secret and the KubeFedCluster.
    k "$HOST" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Secret
type: Opaque
metadata: {name: $c-dev-token, namespace: $NS}
data: {token: $token}
---
apiVersion: core.kubefed.io/v1beta1
kind: KubeFedCluster
metadata:
  name: $c
  namespace: $NS
  labels: {kubefed.io/host: "$([[ $c == "$HOST" ]] && echo true || echo false)"}
spec:
  apiEndpoint: $server
  caBundle: $ca
  secretRef: {name: $c-dev-token}
EOF
    log "joined $c ($server)"
  done
  ftc() { # NAME GROUP KIND PLURAL SCOPE
    local name="$1" group="$2" kind="$3" plural="$4" scope="$5"
    k "$HOST" apply -f - >/dev/null <<EOF
apiVersion: core.kubefed.io/v1beta1
kind: FederatedTypeConfig
metadata: {name: $name, namespace: $NS}
spec:
  targetType: {group: "$group", version: v1, kind: $kind, pluralName: $plural, scope: $scope}
  federatedType: {group: types.kubefed.io, version: v1beta1, kind: Federated$kind, pluralName: federated$plural, scope: Namespaced}
  propagation: Enabled
EOF
    log "enabled $name"
  }
  ftc deployments.apps apps Deployment deployments Namespaced
  ftc services "" Service services Namespaced
  ftc configmaps "" ConfigMap configmaps Namespaced
  ftc namespaces "" Namespace namespaces Cluster
}

down() {
  k "$HOST" -n "$NS" delete federatedtypeconfig deployments.apps services configmaps namespaces \
    --ignore-not-found --wait=false >/dev/null
  for c in "${CLUSTERS[@]}"; do
    k "$HOST" -n "$NS" delete kubefedcluster "$c" --ignore-not-found >/dev/null
    k "$HOST" -n "$NS" delete secret "$c-dev-token" --ignore-not-found >/dev/null
    k "$c" -n "$NS" delete secret "$SA-token" --ignore-not-found >/dev/null
    k "$c" -n "$NS" delete serviceaccount "$SA" --ignore-not-found >/dev/null
    k "$c" delete clusterrolebinding "$SA-$NS" --ignore-not-found >/dev/null
    log "unjoined $c"
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
