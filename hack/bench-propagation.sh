#!/usr/bin/env bash
# `make bench-propagation`: how fast and how lean the controllers turn annotated objects into
# member copies, against a plain-client floor, on the local test bed (loopback only).
#
#   floor       fed-bench floor: a plain kube client creates $COUNT Deployments directly on each of
#               earth, vulcan and kronos ($CONC requests in flight per cluster), timed until a
#               watch on every cluster has seen all 3×$COUNT;
#   federated   fed-bench federated: the same client creates $COUNT Deployments annotated
#               `kubefed.io/placement: earth,vulcan,kronos` on the host earth ($CONC in flight),
#               timed until a watch on every cluster has seen all of them (earth's copy is the
#               source itself — DESIGN.md host semantics —, vulcan's and kronos' are written by the
#               controllers): the same 3×$COUNT Deployments as the floor; ratio = federated/floor;
#   latency     fed-bench latency: annotated Deployments created on earth at each of $RATES
#               per second for $LAT_SECONDS s; per object, source created → first watch event of
#               the copy on vulcan and on kronos; p50/p99 (the target is stated at half the
#               capacity the federated phase measured; the low rate shows the path latency without
#               queueing);
#   memory      fed-bench memory: $MEM_COUNT annotated ConfigMaps placed on vulcan; fed-webhook's
#               VmRSS/VmHWM from /proc/<pid> before, at convergence and after settling. Runs
#               first, so "before" is the process as the run found it (a heap that grew in an
#               earlier phase is not handed back to the OS and would blur the figure).
# Each phase runs in its own namespace bench-<phase>-<run id>, deleted from every cluster (host
# first, so the controllers remove their copies) before the next phase starts. The controllers
# measured are the fed-webhook process hack/federation-up.sh started (PID in
# .local/federation/fed-webhook.pid), a release build (FED_PROFILE, default release here; the
# next plain federation-up switches back to debug).
#
# Output: .local/bench/propagation.json, summary on stdout.
# Knobs: FED_BENCH_COUNT (1000) FED_BENCH_CONCURRENCY (16) FED_BENCH_ROUNDS (1)
#        FED_BENCH_RATES ("half 10"; half = half the capacity the federated phase measured)
#        FED_BENCH_LAT_SECONDS (30) FED_BENCH_MEM_COUNT (10000)
#        FED_BENCH_PHASES ("memory floor federated latency") FED_BENCH_NO_UP=1 (skip federation-up)
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
source "$HACK_DIR/lib-bench.sh"
export KUBECONFIG="$KUBECONFIG_PATH"

COUNT="${FED_BENCH_COUNT:-1000}"
CONC="${FED_BENCH_CONCURRENCY:-16}"
ROUNDS="${FED_BENCH_ROUNDS:-1}"
read -r -a RATES <<<"${FED_BENCH_RATES:-half 10}"
LAT_SECONDS="${FED_BENCH_LAT_SECONDS:-30}"
MEM_COUNT="${FED_BENCH_MEM_COUNT:-10000}"
read -r -a PHASES <<<"${FED_BENCH_PHASES:-memory floor federated latency}"
HOST=earth
BENCH_DIR="$LOCAL_DIR/bench"
OUT="$BENCH_DIR/propagation.json"
TARGET_ROOT="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
RUN_ID="$(date +%H%M%S)"
mkdir -p "$BENCH_DIR/propagation"
command -v jq >/dev/null || die "jq is required"

# The local form, so the controllers' process is measured through its PID.
[[ "${FED_BENCH_NO_UP:-0}" == 1 ]] ||
  FED_HOST_MODE="${FED_HOST_MODE:-local}" FED_PROFILE="${FED_PROFILE:-release}" "$HACK_DIR/federation-up.sh"
(cd "$REPO_ROOT" && cargo build -q --release -p fed-bench)
bench="$TARGET_ROOT/release/fed-bench"
pid_file="$LOCAL_DIR/federation/fed-webhook.pid"
[[ -f "$pid_file" ]] || die "no $pid_file: is the federation up (hack/federation-up.sh)?"
pid="$(cat "$pid_file")"
[[ -e /proc/$pid ]] || die "fed-webhook (pid $pid) is not running"

k() { kubectl --context "$@"; }

trap 'cleanup_all' EXIT
trap 'log "interrupted: deleting bench-* namespaces"; exit 130' INT TERM
cleanup_all

# Settles the machine between phases: kube-controller-manager finishes its ReplicaSets and
# garbage, the controllers drain their queues.
settle() { sleep "${FED_BENCH_SETTLE:-10}"; }

# Preflight: an annotated ConfigMap placed on vulcan,kronos must reach both within 60s.
preflight() {
  local ns="bench-preflight-$RUN_ID" c
  k "$HOST" create ns "$ns" >/dev/null
  k "$HOST" -n "$ns" apply -f - >/dev/null <<EOF ||
apiVersion: v1
kind: ConfigMap
metadata: {name: preflight, annotations: {kubefed.io/placement: "vulcan,kronos"}}
data: {k: v}
EOF
    die "the host refused an annotated ConfigMap placed on vulcan,kronos (above): is the federation up with all three clusters joined?"
  local deadline=$((SECONDS + 60))
  for c in vulcan kronos; do
    until k "$c" -n "$ns" get configmap preflight >/dev/null 2>&1; do
      ((SECONDS < deadline)) || {
        delete_ns "$ns"
        die "an annotated ConfigMap did not reach $c within 60s: are the controllers running in fed-webhook (pid $pid)? see .local/federation/fed-webhook.log"
      }
      sleep 0.2
    done
  done
  delete_ns "$ns"
}
preflight
log "controllers propagate (fed-webhook pid $pid); phases: ${PHASES[*]}; $COUNT objects per cluster, concurrency $CONC, $ROUNDS round(s)"

common=(--kubeconfig "$KUBECONFIG_PATH" --pid "$pid")
has_phase() { [[ " ${PHASES[*]} " == *" $1 "* ]]; }
results="$BENCH_DIR/propagation/results-$RUN_ID.jsonl"
: >"$results"

# phase NAME NS fed-bench-ARGS...: runs one measurement, appends its JSON (with round and the
# CPU used by every process during it) to results.
phase() {
  local name="$1" ns="$2" round="$3"; shift 3
  log "$name (round $round) in namespace $ns"
  local out t0 cpu0="$BENCH_DIR/propagation/cpu0" cpu1="$BENCH_DIR/propagation/cpu1"
  local req0="$BENCH_DIR/propagation/req0" req1="$BENCH_DIR/propagation/req1"
  req_snapshot >"$req0"; cpu_snapshot "fed-webhook=$pid" >"$cpu0"; t0="$(date +%s.%N)"
  if out="$("$bench" "$@" --namespace "$ns" "${common[@]}")"; then
    cpu_snapshot "fed-webhook=$pid" >"$cpu1"; req_snapshot >"$req1"
    jq -c --argjson round "$round" --argjson cpu "$(cpu_delta "$cpu0" "$cpu1" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")" \
      --argjson req "$(req_delta "$req0" "$req1")" \
      '. + { round: $round, cpu: $cpu, api_requests: $req }' <<<"$out" >>"$results"
  else
    log "WARNING: $name failed"
    jq -nc --arg b "$name" --argjson round "$round" '{ benchmark: $b, round: $round, failed: true }' >>"$results"
  fi
  delete_ns "$ns"
  settle
}

has_phase memory && phase memory "bench-mem-$RUN_ID" 1 \
  memory --host "$HOST" --placement vulcan --count "$MEM_COUNT" --concurrency 32 --timeout 900
for round in $(seq "$ROUNDS"); do
  has_phase floor && phase floor "bench-floor-$RUN_ID-$round" "$round" \
    floor --clusters earth,vulcan,kronos --count "$COUNT" --concurrency "$CONC"
  has_phase federated && phase federated "bench-fed-$RUN_ID-$round" "$round" \
    federated --host "$HOST" --placement earth,vulcan,kronos --count "$COUNT" --concurrency "$CONC"
done
half_rate=0
# half_capacity: half the sources per second the last federated phase sustained (its sources over
# its convergence time), the rate the latency target is stated at.
half_capacity() {
  jq -rs '[ .[] | select(.benchmark == "federated" and (.failed | not)) ] | last
    | if . then (.sources / .converged_s / 2 | floor | if . < 1 then 1 else . end) else empty end' "$results"
}
for rate in "${RATES[@]}"; do
  if [[ "$rate" == half ]]; then
    rate="$(half_capacity)"; half_rate="$rate"
    [[ -n "$rate" ]] || { log "WARNING: no federated phase measured a capacity; skipping the half-capacity latency run"; continue; }
    log "half the measured capacity: $rate objects/s"
  fi
  has_phase latency && phase latency "bench-lat-$RUN_ID-$rate" 1 \
    latency --host "$HOST" --placement earth,vulcan,kronos --rate "$rate" --duration "$LAT_SECONDS"
done

restarted=false
if [[ ! -e /proc/$pid ]] || [[ "$(cat "$pid_file" 2>/dev/null)" != "$pid" ]]; then
  restarted=true
  log "WARNING: fed-webhook (pid $pid) was restarted or stopped during the run; its CPU/RSS figures are incomplete"
fi
jq -s --argjson restarted "$restarted" --arg date "$(date -u +%FT%TZ)" --argjson cores "$(nproc)" \
  --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  --arg build "$(tr '\0' ' ' <"/proc/$(cat "$pid_file")/cmdline" 2>/dev/null | cut -d' ' -f1)" '
  def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  [ .[] | select(.benchmark == "floor" and (.failed | not)) ] as $floor
  | [ .[] | select(.benchmark == "federated" and (.failed | not)) ] as $fed
  | ([ $floor[].converged_s ] | median) as $f
  | ([ $fed[].converged_s ] | median) as $d
  | { taken: $date, controllers_restarted_during_run: $restarted, machine: { cores: $cores, cpu: $cpu }, controllers: $build,
      targets: { convergence_ratio_max: 2.0, latency_p99_ms_max: 300, rss_mib_max: 80 },
      floor: $floor, federated: $fed,
      convergence: { floor_s: $f, federated_s: $d,
                     ratio: (if $f and $d then ($d / $f * 100 | round / 100) else null end) },
      latency: [ .[] | select(.benchmark == "latency" and (.failed | not)) ],
      memory: ([ .[] | select(.benchmark == "memory") ] | first),
      failed: [ .[] | select(.failed) | .benchmark ] }' "$results" >"$OUT"

jq -r --argjson half "${half_rate:-0}" '
  "kubectl-fed propagation benchmark (\(.machine.cores) cores; controllers: \(.controllers))",
  (if .convergence.ratio then
    "  convergence: floor \(.convergence.floor_s) s, federated \(.convergence.federated_s) s for \(.federated[0].objects) Deployments → ratio \(.convergence.ratio) (target ≤ 2.0: \(if .convergence.ratio <= 2.0 then "met" else "MISSED" end))"
   else empty end),
  (.latency[] |
    "  latency at \(.rate_per_s)/s for \(.duration_s) s (source created → copy seen on \(.measured_on | join(","))): p50 \(.source_created_to_member_seen.p50_ms) ms, p99 \(.source_created_to_member_seen.p99_ms) ms, max \(.source_created_to_member_seen.max_ms) ms\(if .rate_per_s == $half then " (half the measured capacity; target p99 ≤ 300: \(if .source_created_to_member_seen.p99_ms <= 300 then "met" else "MISSED" end))" else "" end)"),
  (if .memory and (.memory.failed | not) then
    "  memory with \(.memory.objects) federated ConfigMaps on \(.memory.placement): VmRSS \(.memory.rss_mib_after_settle) MiB after settling (\(.memory.rss_mib_before) before, +\(.memory.rss_mib_growth); process \(.memory.process_age_s_at_start) s old at start; max sampled \(.memory.rss_mib_max_sampled)), VmHWM \(.memory.hwm_mib) MiB (target ≤ 80: \(if .memory.rss_mib_after_settle <= 80 then "met" else "MISSED" end))"
   else empty end),
  (if .controllers_restarted_during_run then "  WARNING: fed-webhook was restarted during the run (someone re-ran federation-up); re-run for clean figures" else empty end),
  (if (.failed | length) > 0 then "  FAILED: \(.failed | join(", "))" else empty end),
  "  written to '"$OUT"'"' "$OUT"
