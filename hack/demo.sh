#!/usr/bin/env bash
# The seed walk-through with `kubectl fed`, narrated: every command is shown, then its output.
# Ends with a per-cluster table of what landed where and leaves the federation running.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

"$HACK_DIR/federation-up.sh" >/dev/null
export KUBECONFIG="$KUBECONFIG_PATH"
# shellcheck source=/dev/null
source "$LOCAL_DIR/images.env" # FED_DEMO_IMAGE: the bed's own web server on port 80
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
run kubectl -n demo create deployment web --image="$FED_DEMO_IMAGE" --dry-run=client -o yaml
kubectl -n demo create deployment web --image="$FED_DEMO_IMAGE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create service clusterip web --tcp=80:80 --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo create configmap web-config --from-literal=greeting=hello --dry-run=client -o yaml | kubectl apply -f - >/dev/null
run kubectl fed federate namespace demo --contents --enable-type
until_present vulcan demo deployment web
until_present kronos demo configmap web-config

step "KubeFed YAML works unchanged: FederatedNamespace, FederatedDeployment, FederatedService"
echo "  (the walk-through's httpbin image cannot be pulled here; the bed's demo server stands in)"
kubectl create namespace fedtestns --dry-run=client -o yaml | kubectl apply -f - >/dev/null
sed "s|docker.io/kennethreitz/httpbin|$FED_DEMO_IMAGE|" "$REPO_ROOT/tests/fixtures/seed-listings.yaml" >"$LOCAL_DIR/seed-listings.yaml"
run kubectl apply -f "$LOCAL_DIR/seed-listings.yaml"
until_present vulcan fedtestns deployment fedhttp

step "A pod and a deployment with the web service on both clusters, answering on port 80"
for c in earth vulcan; do
  kubectl --context "$c" -n fedtestns wait pod -l app=httpbin --for=condition=Ready --timeout=120s >/dev/null 2>&1 ||
    echo "  (the pod on $c is not ready yet)"
  run kubectl --context "$c" -n fedtestns get pods -l app=httpbin -o wide
  ip="$(kubectl --context "$c" -n fedtestns get pods -l app=httpbin -o jsonpath='{.items[0].status.podIP}')"
  run curl -s --max-time 5 "http://$ip/"
done
run kubectl --context vulcan -n fedtestns get service fed-service

step "vulcan removed from the FederatedDeployment's placement: its pod stops, earth's stays"
run kubectl -n fedtestns patch federateddeployment fedhttp --type=merge -p '{"spec":{"placement":{"clusters":[{"name":"earth"}]}}}'
kubectl --context vulcan -n fedtestns wait pod -l app=httpbin --for=delete --timeout=60s >/dev/null 2>&1 || true
run kubectl --context vulcan -n fedtestns get pods
run kubectl --context earth -n fedtestns get pods

step "An ordinary Deployment placed with an annotation, with a per-cluster override"
kubectl -n demo create deployment api --image="$FED_DEMO_IMAGE" --replicas=2 --dry-run=client -o yaml | kubectl apply -f - >/dev/null
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

step "Unjoin vulcan: what the federation rolled out there is cleaned up, not left behind"
run kubectl fed unjoin vulcan --host-cluster-context earth --force
kubectl --context vulcan get pods -A -o name | grep -q . && echo "  (pods still terminating on vulcan)"
run kubectl --context vulcan get pods -A
per_cluster

cat <<MSG

The federation is still running. Try it yourself:
  export KUBECONFIG=$KUBECONFIG_PATH PATH=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug:\$PATH
  kubectl fed status -A
vulcan is unjoined; \`make federation-up\` joins it again. Stop everything with: make cluster-down
MSG
