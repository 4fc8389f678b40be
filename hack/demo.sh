#!/usr/bin/env bash
# The seed walk-through with `kubectl fed`, narrated: every command is shown, then its output.
# Ends with a per-cluster table of what landed where and leaves the federation running.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

"$HACK_DIR/federation-up.sh" >/dev/null
export KUBECONFIG="$KUBECONFIG_PATH"
export PATH="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug:$PATH"

step() { printf '\n\033[1m# %s\033[0m\n' "$1"; }
run() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
until_present() { # CONTEXT NS KIND NAME
  for _ in $(seq 1 150); do kubectl --context "$1" -n "$2" get "$3" "$4" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "  (still waiting for $3/$4 on $1)"
}

# A freshly joined cluster turns Ready at its first health probe (one every 10 s).
kubectl --context earth -n kube-federation-system wait kubefedcluster --all --for=condition=Ready --timeout=60s >/dev/null

step "Three clusters joined: earth (the host), vulcan and kronos"
run kubectl fed clusters

step "A namespace with a web server, its Service and a ConfigMap, federated as a whole"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run kubectl -n demo create deployment web --image=kennethreitz/httpbin --dry-run=client -o yaml
kubectl -n demo create deployment web --image=kennethreitz/httpbin --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create service clusterip web --tcp=80:80 --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create configmap web-config --from-literal=greeting=hello --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run kubectl fed federate namespace demo --contents --enable-type
until_present vulcan demo deployment web
until_present kronos demo configmap web-config

step "KubeFed YAML works unchanged: FederatedNamespace, FederatedDeployment, FederatedService"
kubectl create namespace fedtestns --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run kubectl apply -f "$REPO_ROOT/tests/fixtures/seed-listings.yaml"
until_present vulcan fedtestns deployment fedhttp

step "An ordinary Deployment placed with an annotation, with a per-cluster override"
kubectl -n demo create deployment api --image=nginx --replicas=2 --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run kubectl fed place deployment/api -n demo --clusters vulcan,kronos --override kronos:/spec/replicas=3
until_present kronos demo deployment api

step "A typo is refused by the admission webhook before anything changes"
run kubectl fed place deployment/api -n demo --clusters vulcan,kronoss || true

step "Where everything landed"
run kubectl fed status -A

per_cluster() {
  printf '  %-8s %-10s %s\n' CLUSTER NAMESPACE OBJECTS
  for c in "${CLUSTERS[@]}"; do
    for ns in demo fedtestns; do
      objs="$(kubectl --context "$c" -n "$ns" get deployments,services,configmaps -o name 2>/dev/null | { grep -v kube-root-ca || true; } | tr "\n" " ")"
      printf '  %-8s %-10s %s\n' "$c" "$ns" "${objs:-<none>}"
    done
  done
}
step "Per-cluster view"
per_cluster

step "Unjoin kronos: what the federation rolled out there is cleaned up, not left behind"
run kubectl fed unjoin kronos --force
per_cluster

cat <<MSG

The federation is still running. Try it yourself:
  export KUBECONFIG=$KUBECONFIG_PATH PATH=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug:\$PATH
  kubectl fed status -A
kronos is unjoined; \`make federation-up\` joins it again. Stop everything with: make cluster-down
MSG
