#!/usr/bin/env bash
# Starts the federation on the local test bed, idempotently:
#   1. the three clusters with their nodes (hack/cluster-up.sh);
#   2. the workspace build, and the images (hack/images.sh) imported into every node;
#   3. the host component, in one of two forms (FED_HOST_MODE):
#      cluster (default) — installed in earth the way a user installs it:
#        `kubectl fed install --image <the local image> --replicas 2 --host-network …`:
#        TLS Secret, Service, Deployment (2 replicas, leader election), PDB, ServiceAccount and
#        RBAC from manifests/host/; the apiserver calls the webhook through its Service. The
#        pods use the node's network (the bed's apiservers listen on loopback only) and reach
#        earth's apiserver at 127.0.0.1 rather than through the `kubernetes` Service (the bed
#        runs no kube-proxy);
#      local — fed-webhook as a process on 127.0.0.1 with a CA it generated (rcgen), registered
#        with `kubectl fed install --webhook-url …`; restarted when its binary was rebuilt. It
#        runs as the component's ServiceAccount (a token from the TokenRequest API, in
#        .local/federation/controllers.kubeconfig), with the RBAC the pods get. For debugging
#        (a debugger or RUST_LOG=debug on the host) and for the benchmarks.
#   4. `kubectl fed join` of earth (host self-join), vulcan and kronos;
#   5. `kubectl fed enable` of deployments, services and configmaps.
# hack/federation-down.sh stops the host component; hack/cluster-down.sh stops everything.
# FED_PROFILE=release runs release builds (the benchmarks do); default debug, like `make build`.
# FED_HOST_IMAGE=REF installs that image instead of the local build's (cluster form; the fault
# suite's upgrade scenario installs an earlier commit's image first: hack/previous-image.sh).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

FED_DIR="$LOCAL_DIR/federation"
WEBHOOK_PORT="$((PORT_BASE + 47))"
WEBHOOK_URL="https://127.0.0.1:$WEBHOOK_PORT"
PROFILE="${FED_PROFILE:-debug}"
MODE="${FED_HOST_MODE:-cluster}"
[[ "$PROFILE" == debug || "$PROFILE" == release ]] || die "FED_PROFILE must be debug or release (got '$PROFILE')"
[[ "$MODE" == cluster || "$MODE" == local ]] || die "FED_HOST_MODE must be cluster or local (got '$MODE')"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/$PROFILE"
FED_NS=kube-federation-system
export KUBECONFIG="$KUBECONFIG_PATH"

"$HACK_DIR/cluster-up.sh"
# The same selection as `make build`, so features unify the same way and nothing rebuilds.
# Run from `cargo test`, the environment carries what cargo sets for the test crate
# (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, …); ring's build script reruns whenever those change,
# which rebuilds everything above ring here and again at the next plain build: drop them.
(
  cd "$REPO_ROOT"
  for var in $(compgen -e); do
    case "$var" in CARGO_PKG_* | CARGO_MANIFEST_* | CARGO_CRATE_NAME | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR) unset "$var" ;; esac
  done
  if [[ "$PROFILE" == release ]]; then
    cargo build -q --release --workspace --bins
  else
    cargo build -q --workspace --bins
  fi
)
webhook_bin="$TARGET_DIR/fed-webhook"
fed="$TARGET_DIR/kubectl-fed"
mkdir -p "$FED_DIR"

# Once installed, earth sends federation objects to the webhook, which refuses them until its
# caches have synced; on a fresh bed its caches wait for the CRDs that install creates.
installed() { kubectl --context earth get crd kubefedclusters.core.kubefed.io >/dev/null 2>&1; }

# Switching forms on a running bed: the webhook configurations still send reviews to the other
# form (a Service with no pods left, or a stopped local process), so the installer's own writes
# would be refused. They are deleted here; the install below registers the new form's.
drop_other_form_webhooks() { # FORM: url | service
  local registered
  registered="$(kubectl --context earth get validatingwebhookconfiguration kubectl-fed \
    -o jsonpath='{.webhooks[0].clientConfig}' 2>/dev/null)" || return 0
  if [[ "$1" == url && "$registered" == *'"service"'* ]] || [[ "$1" == service && "$registered" == *'"url"'* ]]; then
    kubectl --context earth delete validatingwebhookconfiguration,mutatingwebhookconfiguration kubectl-fed >/dev/null
    log "removed the other form's webhook configurations"
  fi
}

# The component's namespace, ServiceAccount and RBAC (none of them goes through admission), and a
# kubeconfig for earth with a fresh token of that ServiceAccount: the local process then writes
# as the pods do, so the webhook configuration's match conditions treat it the same way.
controllers_kubeconfig() {
  local out="$FED_DIR/controllers.kubeconfig" server ca token
  kubectl --context earth apply -f "$REPO_ROOT/manifests/host/namespace.yaml" \
    -f "$REPO_ROOT/manifests/host/rbac.yaml" >/dev/null
  server="$(kubectl config view --raw --minify --context earth -o jsonpath='{.clusters[0].cluster.server}')"
  ca="$(kubectl config view --raw --minify --context earth -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
  token="$(kubectl --context earth -n "$FED_NS" create token kubectl-fed-webhook --duration=720h)"
  (umask 077 && cat >"$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: earth
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: kubectl-fed-webhook
  user: {token: "$token"}
contexts:
- name: earth
  context: {cluster: earth, user: kubectl-fed-webhook}
current-context: earth
EOF
  )
}

start_local() {
  "$webhook_bin" certs --out-dir "$FED_DIR/pki" --ip 127.0.0.1 >/dev/null
  # The in-cluster form, if it runs, would answer in place of this process.
  kubectl --context earth -n "$FED_NS" scale deployment "kubectl-fed-webhook" --replicas=0 >/dev/null 2>&1 || true
  # (Re)start fed-webhook unless the same binary is already serving.
  local pid_file="$FED_DIR/fed-webhook.pid" running="" pid
  if [[ -f "$pid_file" ]]; then
    pid="$(cat "$pid_file")"
    if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$webhook_bin serve" &&
       [[ ! "$webhook_bin" -nt "$pid_file" ]]; then
      running="$pid"
    fi
  fi
  if [[ -z "$running" ]]; then
    FED_HOST_MODE=local "$HACK_DIR/federation-down.sh"
    controllers_kubeconfig
    setsid nohup "$webhook_bin" serve \
      --tls-cert "$FED_DIR/pki/tls.crt" --tls-key "$FED_DIR/pki/tls.key" \
      --listen "127.0.0.1:$WEBHOOK_PORT" --kubeconfig "$FED_DIR/controllers.kubeconfig" --context earth \
      9>&- >>"$FED_DIR/fed-webhook.log" 2>&1 </dev/null &
    echo $! >"$pid_file"
    log "started fed-webhook (pid $!) on $WEBHOOK_URL, log $FED_DIR/fed-webhook.log"
  fi
  local_ready() {
    local deadline=$((SECONDS + 90))
    until curl -sf --cacert "$FED_DIR/pki/ca.crt" "$WEBHOOK_URL/readyz" >/dev/null; do
      ((SECONDS < deadline)) || { tail -20 "$FED_DIR/fed-webhook.log" >&2; die "fed-webhook not ready after 90s"; }
      sleep 0.2
    done
  }
  drop_other_form_webhooks url
  if installed; then local_ready; fi
  "$fed" install --webhook-url "$WEBHOOK_URL" --ca-bundle "$FED_DIR/pki/ca.crt" --context earth >/dev/null
  local_ready
}

start_in_cluster() {
  # A local process from an earlier FED_HOST_MODE=local run would hold the webhook port.
  FED_HOST_MODE=local "$HACK_DIR/federation-down.sh"
  drop_other_form_webhooks service
  # The workspace build above may have made a new fed-webhook binary: build its image and load it
  # into every node (a tag the nodes lack would never be pulled).
  "$HACK_DIR/images.sh" --no-build --import >/dev/null
  # shellcheck source=/dev/null
  source "$LOCAL_DIR/images.env"
  "$fed" install --image "${FED_HOST_IMAGE:-$FED_WEBHOOK_IMAGE}" --replicas "${FED_HOST_REPLICAS:-2}" --host-network --port "$WEBHOOK_PORT" \
    --host-apiserver "127.0.0.1:$PORT_BASE" --context earth >/dev/null
  if ! kubectl --context earth -n "$FED_NS" rollout status deployment/kubectl-fed-webhook --timeout=180s >/dev/null; then
    kubectl --context earth -n "$FED_NS" get pods -o wide >&2 || true
    kubectl --context earth -n "$FED_NS" logs deployment/kubectl-fed-webhook --tail=30 >&2 || true
    die "the host component's Deployment did not become ready within 180s"
  fi
  log "host component in earth: $(kubectl --context earth -n "$FED_NS" get deployment kubectl-fed-webhook \
    -o jsonpath='{.status.readyReplicas}/{.spec.replicas} ready, image {.spec.template.spec.containers[0].image}')"
}

if [[ "$MODE" == local ]]; then start_local; else start_in_cluster; fi

for c in "${CLUSTERS[@]}"; do
  if ! kubectl --context earth -n "$FED_NS" get kubefedcluster "$c" >/dev/null 2>&1; then
    "$fed" join "$c" --cluster-context "$c" --context earth >/dev/null
  fi
done
for t in deployments.apps services configmaps; do
  "$fed" enable "$t" --context earth >/dev/null
done
log "federation up ($MODE form); clusters ${CLUSTERS[*]} joined"
