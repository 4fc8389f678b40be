#!/usr/bin/env bash
# `make bench-peer`: KubeFed v0.10.0 and kubectl-fed side by side, on the same bed, with the same
# workload, in one run.
#
# Both serve KubeFed's API groups (core.kubefed.io, types.kubefed.io), so they cannot share a
# host: the run starts from a fresh bed (control planes only, no nodes: the workload's
# Deployments have 0 replicas), runs KubeFed on it, then re-creates the same bed from scratch and
# brings up kubectl-fed on it (`hack/federation-up.sh`, release build, the local form so its PID
# is measured like KubeFed's).
#
# Phases (FED_BENCH_PEER_PHASES, default all, in this order):
#   kubefed-1     KubeFed at its default (syncController.maxConcurrentReconciles 1);
#   kubefed-16    KubeFed with 16 workers;
#   kubefed-apply kubectl apply of the 1,000 FederatedDeployments, 16 processes at a time, on
#                 KubeFed's host (no admission webhook): the user's own write time;
#   kubefed-mem   KubeFed's RSS with $MEM_COUNT FederatedConfigMaps on vulcan;
#   ours          kubectl-fed on the workload of kubefed-1/16;
#   ours-apply    the kubectl apply of kubefed-apply against our host (webhooks on);
#   ours-mem      our RSS with the same FederatedConfigMaps.
# Workload (fed-bench peer): one namespace and its FederatedNamespace placed on earth, vulcan and
# kronos, then $COUNT FederatedDeployments (KubeFed's YAML) placed on the same three, created by
# one client $CONC at a time; timed until a watch on each cluster has seen all $COUNT member
# Deployments. earth is joined as a member of itself by both systems, as in KubeFed's docs.
#
# KubeFed is built from its source kit (FED_KUBEFED_KIT: a directory with build.sh and the
# v0.10.0 tarball) into FED_KUBEFED_CACHE (default ~/.cache/kubectl-fed/kubefed-v0.10.0), once.
# It runs out of cluster, as its own notes describe: GOMAXPROCS=2, leader election on, one
# bearer-token Secret and KubeFedCluster per member.
#
# Output: .local/bench/peer.json and a summary on stdout.
# Knobs: FED_BENCH_COUNT (1000) FED_BENCH_CONCURRENCY (16) FED_BENCH_MEM_COUNT (10000)
#        FED_BENCH_PEER_PHASES FED_BENCH_KEEP_BED=1 (reuse a bed that has never had a federation)
#        FED_PROFILE (release; debug for a quick check of the harness)
#        FED_BENCH_NO_BUILD=1 (use the fed-bench binary already built)
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
source "$HACK_DIR/lib-bench.sh"
export KUBECONFIG="$KUBECONFIG_PATH"
# Control planes only, for both systems (federation-up would otherwise add the nodes).
export FED_TESTBED_NODES=""

COUNT="${FED_BENCH_COUNT:-1000}"
CONC="${FED_BENCH_CONCURRENCY:-16}"
MEM_COUNT="${FED_BENCH_MEM_COUNT:-10000}"
read -r -a PHASES <<<"${FED_BENCH_PEER_PHASES:-kubefed-1 kubefed-16 kubefed-apply kubefed-mem ours ours-apply ours-mem}"
KIT="${FED_KUBEFED_KIT:-$REPO_ROOT/../shared/peers/kubefed}"
KF="${FED_KUBEFED_CACHE:-$HOME/.cache/kubectl-fed/kubefed-v0.10.0}"
KF_NS=kube-federation-system
HOST=earth
BENCH_DIR="$LOCAL_DIR/bench"
WORK="$BENCH_DIR/peer"
OUT="$BENCH_DIR/peer.json"
TARGET_ROOT="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
RUN_ID="$(date +%H%M%S)"
KF_HEALTH_PORT=$((PORT_BASE + 60))
mkdir -p "$WORK"
command -v jq >/dev/null || die "jq is required"
has_phase() { [[ " ${PHASES[*]} " == *" $1 "* ]]; }
k() { kubectl --context "$@"; }

[[ -x "$KF/bin/controller-manager" ]] || {
  [[ -f "$KIT/build.sh" ]] || die "no KubeFed kit at $KIT (set FED_KUBEFED_KIT to the directory with build.sh and kubefed-v0.10.0.tar.gz)"
  log "building KubeFed v0.10.0 into $KF (once; ~4 min)"
  bash "$KIT/build.sh" "$KF" >"$WORK/kubefed-build.log" 2>&1 || die "KubeFed build failed: $WORK/kubefed-build.log"
}
PROFILE="${FED_PROFILE:-release}"
[[ "${FED_BENCH_NO_BUILD:-0}" == 1 ]] || (cd "$REPO_ROOT" && if [[ "$PROFILE" == release ]]; then cargo build -q --release -p fed-bench; else cargo build -q -p fed-bench; fi)
bench="$TARGET_ROOT/$PROFILE/fed-bench"

if [[ "${FED_BENCH_KEEP_BED:-0}" != 1 ]]; then
  log "fresh bed, control planes only"
  "$HACK_DIR/cluster-down.sh"
  "$HACK_DIR/cluster-up.sh"
fi

kf_pid=""
stop_kubefed() {
  [[ -n "$kf_pid" ]] || return 0
  kill "$kf_pid" 2>/dev/null || true
  local deadline=$((SECONDS + 20))
  while [[ -e /proc/$kf_pid ]] && ((SECONDS < deadline)); do sleep 0.2; done
  kill -9 "$kf_pid" 2>/dev/null || true
  kf_pid=""
}
trap 'stop_kubefed; cleanup_all' EXIT
trap 'log "interrupted"; exit 130' INT TERM

results="$WORK/results-$RUN_ID.jsonl"
: >"$results"

# measure NAME PID NS fed-bench-ARGS...: one fed-bench run, with the CPU of every bed process and
# of the controller (PID) over it; appends its JSON to results and deletes NS everywhere.
measure() {
  local name="$1" cpid="$2" ns="$3"; shift 3
  log "$name in namespace $ns"
  local out t0 cpu0="$WORK/cpu0" cpu1="$WORK/cpu1"
  cpu_snapshot "controller=$cpid" >"$cpu0"; t0="$(date +%s.%N)"
  if out="$("$bench" peer "$@" --namespace "$ns" --kubeconfig "$KUBECONFIG_PATH" --pid "$cpid" --timeout 1200)"; then
    cpu_snapshot "controller=$cpid" >"$cpu1"
    jq -c --arg name "$name" --argjson cpu "$(cpu_delta "$cpu0" "$cpu1" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")" \
      '. + { phase: $name, cpu: $cpu }' <<<"$out" >>"$results"
  else
    log "WARNING: $name failed"
    jq -nc --arg name "$name" '{ phase: $name, failed: true }' >>"$results"
  fi
  [[ "${KEEP_NS:-0}" == 1 ]] && return 0
  delete_ns "$ns"
  sleep "${FED_BENCH_SETTLE:-10}" # lets kube-controller-manager finish the namespace's garbage
}

# apply_phase NAME NS: kubectl apply of COUNT FederatedDeployment files, 16 processes at a time.
apply_phase() {
  local name="$1" ns="$2" dir="$WORK/apply-yaml" i n t0 t1
  rm -rf "$dir" && mkdir -p "$dir"
  k "$HOST" create ns "$ns" >/dev/null
  for ((i = 0; i < COUNT; i++)); do
    printf -v n 'd%05d' "$i"
    cat >"$dir/$n.yaml" <<EOF
apiVersion: types.kubefed.io/v1beta1
kind: FederatedDeployment
metadata: {name: $n, namespace: $ns}
spec:
  template:
    metadata: {labels: {app: bench}}
    spec:
      replicas: 0
      selector: {matchLabels: {app: bench, bench.kubefed.io/name: $n}}
      template:
        metadata: {labels: {app: bench, bench.kubefed.io/name: $n}}
        spec: {containers: [{name: web, image: registry.k8s.io/e2e-test-images/agnhost:2.53}]}
  placement: {clusters: [{name: earth}, {name: vulcan}, {name: kronos}]}
EOF
  done
  log "$name: kubectl apply of $COUNT FederatedDeployments, 16 processes at a time"
  t0="$(date +%s.%N)"
  if ls "$dir"/*.yaml | xargs -P 16 -n 1 kubectl --context "$HOST" apply -f >/dev/null 2>"$WORK/$name.err"; then
    t1="$(date +%s.%N)"
    jq -nc --arg name "$name" --argjson n "$COUNT" --argjson s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')" \
      '{ phase: $name, benchmark: "kubectl-apply", objects: $n, processes: 16, wall_s: $s }' >>"$results"
  else
    log "WARNING: $name: kubectl apply failed (first errors: $(head -3 "$WORK/$name.err"))"
    jq -nc --arg name "$name" '{ phase: $name, failed: true }' >>"$results"
  fi
  delete_ns "$ns"
}

# --- KubeFed ---------------------------------------------------------------------------------
kubefed_install() {
  log "installing KubeFed's CRDs and configuration on $HOST"
  k "$HOST" apply -f "$KF/crds/00-core-crds.yaml" -f "$KF/crds/01-federated-type-crds.yaml" >/dev/null
  k "$HOST" wait --for=condition=Established crd --all --timeout=120s >/dev/null
  k "$HOST" apply -f "$KF/crds/02-namespace.yaml" -f "$KF/crds/04-kubefedconfig.yaml" >/dev/null
  k "$HOST" apply -f "$KF/crds/03-federatedtypeconfigs.yaml" >/dev/null
  local c server ca token
  for c in "${CLUSTERS[@]}"; do
    # A bearer token the member accepts (KubeFed does not take client certificates).
    k "$c" -n kube-system create serviceaccount kubefed-bench --dry-run=client -o yaml | k "$c" apply -f - >/dev/null
    k "$c" create clusterrolebinding kubefed-bench --clusterrole=cluster-admin \
      --serviceaccount=kube-system:kubefed-bench --dry-run=client -o yaml | k "$c" apply -f - >/dev/null
    token="$(k "$c" -n kube-system create token kubefed-bench --duration=12h)"
    server="$(kubectl config view --raw -o jsonpath="{.clusters[?(@.name==\"$c\")].cluster.server}")"
    ca="$(kubectl config view --raw -o jsonpath="{.clusters[?(@.name==\"$c\")].cluster.certificate-authority-data}")"
    k "$HOST" -n "$KF_NS" create secret generic "$c-token" --from-literal=token="$token" \
      --dry-run=client -o yaml | k "$HOST" apply -f - >/dev/null
    k "$HOST" apply -f - >/dev/null <<EOF
apiVersion: core.kubefed.io/v1beta1
kind: KubeFedCluster
metadata: {name: $c, namespace: $KF_NS}
spec: {apiEndpoint: "$server", caBundle: "$ca", secretRef: {name: $c-token}}
EOF
  done
  kubectl config view --raw --minify --context "$HOST" >"$WORK/host.kubeconfig"
}

# kubefed_start WORKERS: (re)starts the controller-manager with that many sync workers and
# waits until every member is Ready.
kubefed_start() {
  local workers="$1"
  stop_kubefed
  k "$HOST" -n "$KF_NS" delete configmap kubefed-controller-manager --ignore-not-found >/dev/null
  k "$HOST" -n "$KF_NS" patch kubefedconfig kubefed --type=merge \
    -p "{\"spec\":{\"syncController\":{\"maxConcurrentReconciles\":$workers}}}" >/dev/null
  GOMAXPROCS=2 "$KF/bin/controller-manager" --kubeconfig "$WORK/host.kubeconfig" --kubefed-namespace "$KF_NS" \
    --healthz-addr "127.0.0.1:$KF_HEALTH_PORT" --metrics-addr "127.0.0.1:$((KF_HEALTH_PORT + 1))" --v=2 \
    >"$WORK/kubefed-$workers.log" 2>&1 &
  kf_pid=$!
  log "KubeFed controller-manager (pid $kf_pid, $workers sync workers), log $WORK/kubefed-$workers.log"
  local deadline=$((SECONDS + 120)) c ready
  while :; do
    ready=0
    for c in "${CLUSTERS[@]}"; do
      [[ "$(k "$HOST" -n "$KF_NS" get kubefedcluster "$c" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]] &&
        ready=$((ready + 1))
    done
    ((ready == ${#CLUSTERS[@]})) && break
    [[ -e /proc/$kf_pid ]] || die "KubeFed exited: $(tail -5 "$WORK/kubefed-$workers.log")"
    ((SECONDS < deadline)) || die "KubeFed's members not Ready within 120 s: see $WORK/kubefed-$workers.log"
    sleep 1
  done
}

cleanup_all
placed="$(IFS=,; echo "${CLUSTERS[*]}")"
if has_phase kubefed-1 || has_phase kubefed-16 || has_phase kubefed-apply || has_phase kubefed-mem; then
  kubefed_install
  kubefed_start 1
  has_phase kubefed-1 && measure kubefed-1 "$kf_pid" "bench-kf1-$RUN_ID" --clusters "$placed" --count "$COUNT" --concurrency "$CONC"
  has_phase kubefed-apply && apply_phase kubefed-apply "bench-kfapply-$RUN_ID"
  if has_phase kubefed-16 || has_phase kubefed-mem; then
    kubefed_start 16
    has_phase kubefed-16 && measure kubefed-16 "$kf_pid" "bench-kf16-$RUN_ID" --clusters "$placed" --count "$COUNT" --concurrency "$CONC"
    # Last KubeFed phase: its 10,000 objects go with the bed below.
    has_phase kubefed-mem && KEEP_NS=1 measure kubefed-mem "$kf_pid" "bench-kfmem-$RUN_ID" --clusters vulcan --kind config-map \
      --count "$MEM_COUNT" --concurrency 32 --settle 15
  fi
  stop_kubefed
  # kubectl-fed gets the same clusters, new: KubeFed's CRDs, finalizers and objects leave with
  # the old etcd data rather than through a clean-up that would itself be a benchmark.
  log "a fresh bed for kubectl-fed"
  "$HACK_DIR/cluster-down.sh"
  "$HACK_DIR/cluster-up.sh"
fi

# --- kubectl-fed -----------------------------------------------------------------------------
if has_phase ours || has_phase ours-apply || has_phase ours-mem; then
  FED_HOST_MODE=local FED_PROFILE="$PROFILE" "$HACK_DIR/federation-up.sh"
  our_pid="$(cat "$LOCAL_DIR/federation/fed-webhook.pid")"
  has_phase ours-mem && measure ours-mem "$our_pid" "bench-omem-$RUN_ID" --clusters vulcan --kind config-map \
    --count "$MEM_COUNT" --concurrency 32 --settle 15
  has_phase ours && measure ours "$our_pid" "bench-ours-$RUN_ID" --clusters "$placed" --count "$COUNT" --concurrency "$CONC"
  has_phase ours-apply && apply_phase ours-apply "bench-oapply-$RUN_ID"
fi

jq -s --arg date "$(date -u +%FT%TZ)" --argjson cores "$(nproc)" '
  def by($p): [ .[] | select(.phase == $p and (.failed | not)) ] | first;
  def ratio($a; $b): if $a and $b then ($a / $b * 100 | round / 100) else null end;
  { taken: $date, machine: { cores: $cores },
    runs: ., failed: [ .[] | select(.failed) | .phase ],
    speedup_vs_kubefed_1: ratio(by("kubefed-1").converged_s; by("ours").converged_s),
    speedup_vs_kubefed_16: ratio(by("kubefed-16").converged_s; by("ours").converged_s),
    apply_ratio_ours_to_kubefed_host: ratio(by("ours-apply").wall_s; by("kubefed-apply").wall_s),
    rss_ratio_ours_to_kubefed_mem: ratio(by("ours-mem").controller_rss_mib_after_settle; by("kubefed-mem").controller_rss_mib_after_settle) }' \
  "$results" >"$OUT"

jq -r '
  "KubeFed v0.10.0 beside kubectl-fed (\(.machine.cores) cores)",
  (.runs[] | select(.benchmark == "peer") |
    "  \(.phase): \(.federated_objects) \(.kind) → \(.member_objects) member objects: client creates \(.creates_done_s) s, converged \(.converged_s) s; host apiserver \(.cpu.cpu_seconds["earth/kube-apiserver"]) cpu-s; controller \(.controller.cpu_seconds) cpu-s, RSS max \(.controller.rss_mib_max_sampled) MiB\(if .controller_rss_mib_after_settle then ", \(.controller_rss_mib_after_settle) MiB after \(.settle_s) s" else "" end); machine busy \(.cpu.machine_busy)"),
  (.runs[] | select(.benchmark == "kubectl-apply") | "  \(.phase): kubectl apply of \(.objects) files, 16 processes: \(.wall_s) s"),
  "  speed-up of ours: ×\(.speedup_vs_kubefed_1) vs KubeFed at 1 worker (target ≥ 5), ×\(.speedup_vs_kubefed_16) vs 16 workers (target ≥ 4)",
  "  kubectl apply, ours / KubeFed host: \(.apply_ratio_ours_to_kubefed_host) (target ≤ 1.3); RSS ours / KubeFed at 10,000: \(.rss_ratio_ours_to_kubefed_mem) (target ≤ 0.167)",
  (if (.failed | length) > 0 then "  FAILED: \(.failed | join(", "))" else empty end),
  "  written to '"$OUT"'"' "$OUT"
