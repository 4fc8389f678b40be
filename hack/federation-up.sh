#!/usr/bin/env bash
# Starts the federation on the local test bed, idempotently:
#   1. the three clusters (hack/cluster-up.sh);
#   2. fed-webhook (admission + controllers) as a local process on 127.0.0.1, serving a cert
#      signed by a CA it generated (rcgen), restarted when its binary was rebuilt;
#   3. `kubectl fed install --webhook-url …` on earth (CRDs, namespace, webhook configurations);
#   4. `kubectl fed join` of earth (host self-join), vulcan and kronos;
#   5. `kubectl fed enable` of deployments, services and configmaps.
# hack/federation-down.sh stops the process; hack/cluster-down.sh stops everything.
# FED_PROFILE=release runs release builds (the benchmarks do); default debug, like `make build`.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

FED_DIR="$LOCAL_DIR/federation"
WEBHOOK_PORT="$((PORT_BASE + 47))"
WEBHOOK_URL="https://127.0.0.1:$WEBHOOK_PORT"
PROFILE="${FED_PROFILE:-debug}"
[[ "$PROFILE" == debug || "$PROFILE" == release ]] || die "FED_PROFILE must be debug or release (got '$PROFILE')"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/$PROFILE"
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

"$webhook_bin" certs --out-dir "$FED_DIR/pki" --ip 127.0.0.1 >/dev/null

# (Re)start fed-webhook unless the same binary is already serving.
pid_file="$FED_DIR/fed-webhook.pid"
running=""
if [[ -f "$pid_file" ]]; then
  pid="$(cat "$pid_file")"
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$webhook_bin serve" &&
     [[ ! "$webhook_bin" -nt "$pid_file" ]]; then
    running="$pid"
  fi
fi
if [[ -z "$running" ]]; then
  "$HACK_DIR/federation-down.sh"
  setsid nohup "$webhook_bin" serve \
    --tls-cert "$FED_DIR/pki/tls.crt" --tls-key "$FED_DIR/pki/tls.key" \
    --listen "127.0.0.1:$WEBHOOK_PORT" --kubeconfig "$KUBECONFIG_PATH" --context earth \
    9>&- >>"$FED_DIR/fed-webhook.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  log "started fed-webhook (pid $!) on $WEBHOOK_URL, log $FED_DIR/fed-webhook.log"
fi

wait_ready() {
  local deadline=$((SECONDS + 90))
  until curl -sf --cacert "$FED_DIR/pki/ca.crt" "$WEBHOOK_URL/readyz" >/dev/null; do
    ((SECONDS < deadline)) || { tail -20 "$FED_DIR/fed-webhook.log" >&2; die "fed-webhook not ready after 90s"; }
    sleep 0.2
  done
}
# Once installed, earth sends federation objects to the webhook, which refuses them until its
# caches have synced; on a fresh bed its caches wait for the CRDs that install creates.
if kubectl --context earth get crd kubefedclusters.core.kubefed.io >/dev/null 2>&1; then wait_ready; fi
"$fed" install --webhook-url "$WEBHOOK_URL" --ca-bundle "$FED_DIR/pki/ca.crt" --context earth >/dev/null
wait_ready

for c in "${CLUSTERS[@]}"; do
  if ! kubectl --context earth -n kube-federation-system get kubefedcluster "$c" >/dev/null 2>&1; then
    "$fed" join "$c" --cluster-context "$c" --context earth >/dev/null
  fi
done
for t in deployments.apps services configmaps; do
  "$fed" enable "$t" --context earth >/dev/null
done
log "federation up: webhook $WEBHOOK_URL; clusters ${CLUSTERS[*]} joined"
