#!/usr/bin/env bash
# `make bench-scale`: how the controllers scale with the number of member clusters N.
#
# For each N in $SCALE_N (default 3 6 12 24), the bed's earth, vulcan and kronos plus N-3 extra
# members (hack/scale-members.sh: light control planes sharing one etcd) are joined, then:
#   idle       fed-webhook's RSS (VmRSS) and CPU over $IDLE_SECONDS s with nothing to do: the
#              member watches and the health probes (every member is probed every 10 s);
#              per-member figures are the growth from the previous N divided by the members added;
#   floor      fed-bench floor: a plain client creates $COUNT Deployments directly on each of
#              the N clusters ($CONC in flight per cluster), timed until a watch on every
#              cluster has seen all N×$COUNT;
#   federated  fed-bench federated: $COUNT Deployments annotated with a placement on all N,
#              created on earth ($CONC in flight), timed until every copy is seen;
#              ratio = federated / floor.
# The controllers are the local form (FED_HOST_MODE=local, release build), so their process is
# the one measured. Members are added between N and never removed until the end.
#
# Output: .local/bench/scale.json (and docs/bench-scale.svg with FED_BENCH_PLOT=1, via
# hack/plot-scale.py), a summary on stdout.
# Knobs: FED_BENCH_SCALE_N ("3 6 12 24") FED_BENCH_COUNT (200) FED_BENCH_CONCURRENCY (16)
#        FED_BENCH_IDLE_SECONDS (30) FED_BENCH_KEEP_MEMBERS=1 (leave the extra members up)
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
source "$HACK_DIR/lib-bench.sh"

read -r -a SCALE_N <<<"${FED_BENCH_SCALE_N:-3 6 12 24}"
COUNT="${FED_BENCH_COUNT:-200}"
CONC="${FED_BENCH_CONCURRENCY:-16}"
IDLE_SECONDS="${FED_BENCH_IDLE_SECONDS:-30}"
BENCH_DIR="$LOCAL_DIR/bench"
OUT="$BENCH_DIR/scale.json"
WORK="$BENCH_DIR/scale"
TARGET_ROOT="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
RUN_ID="$(date +%H%M%S)"
mkdir -p "$WORK"
command -v jq >/dev/null || die "jq is required"
for n in "${SCALE_N[@]}"; do
  [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 3)) || die "FED_BENCH_SCALE_N: every N must be ≥ 3 (got '$n')"
done

export FED_HOST_MODE=local FED_PROFILE=release
"$HACK_DIR/federation-up.sh"
(cd "$REPO_ROOT" && cargo build -q --release -p fed-bench)
bench="$TARGET_ROOT/release/fed-bench"
pid="$(cat "$LOCAL_DIR/federation/fed-webhook.pid")"
[[ -e /proc/$pid ]] || die "fed-webhook (pid $pid) is not running"
ALL_KUBECONFIG="$WORK/all.kubeconfig"
export KUBECONFIG="$KUBECONFIG_PATH"

finish() {
  [[ "${FED_BENCH_KEEP_MEMBERS:-0}" == 1 ]] || "$HACK_DIR/scale-members.sh" down || true
}
trap finish EXIT

clusters_for() { # N: earth,vulcan,kronos,m01,…
  local n="$1" i list="earth,vulcan,kronos"
  for ((i = 1; i <= n - 3; i++)); do list+=",$(printf 'm%02d' "$i")"; done
  echo "$list"
}
HOST=earth
k() { kubectl --kubeconfig "$ALL_KUBECONFIG" --context "$@"; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

results="$WORK/results-$RUN_ID.jsonl"
: >"$results"
for n in "${SCALE_N[@]}"; do
  "$HACK_DIR/scale-members.sh" up $((n - 3))
  KUBECONFIG="$KUBECONFIG_PATH:$LOCAL_DIR/scale.kubeconfig" kubectl config view --flatten >"$ALL_KUBECONFIG"
  list="$(clusters_for "$n")"
  log "N=$n ($list): waiting for every member to be Ready"
  deadline=$((SECONDS + 180))
  until [[ "$(k earth -n kube-federation-system get kubefedclusters -o json |
    jq '[.items[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')" -ge "$n" ]]; do
    ((SECONDS < deadline)) || die "not all $n members Ready after 180s"
    sleep 1
  done
  sleep "${FED_BENCH_SETTLE:-15}"  # the joins' own work (watches opened, first probes) dies down
  cpu_snapshot "fed-webhook=$pid" >"$WORK/cpu0"; w0="$(date +%s.%N)"
  sleep "$IDLE_SECONDS"  # the measurement window itself, not a wait for a condition
  cpu_snapshot "fed-webhook=$pid" >"$WORK/cpu1"
  wall="$(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
  idle="$(jq -n --argjson n "$n" --argjson rss "$(rss_kib)" --argjson cpu "$(cpu_delta "$WORK/cpu0" "$WORK/cpu1" "$wall")" \
    '{ members: $n, rss_mib: ($rss / 1024 * 10 | round / 10),
       cpu_percent: ($cpu.cpu_seconds["fed-webhook"] / $cpu.wall_s * 1000 | round / 10) }')"
  log "N=$n idle: $idle"
  floor_ns="bench-scale-floor-$RUN_ID-$n"
  floor="$("$bench" floor --kubeconfig "$ALL_KUBECONFIG" --namespace "$floor_ns" --clusters "$list" \
    --count "$COUNT" --concurrency "$CONC" --pid "$pid" --timeout 900)" || floor='{"failed": true}'
  delete_ns "$floor_ns" ${list//,/ }
  fed_ns="bench-scale-fed-$RUN_ID-$n"
  federated="$("$bench" federated --kubeconfig "$ALL_KUBECONFIG" --namespace "$fed_ns" --host earth \
    --placement "$list" --count "$COUNT" --concurrency "$CONC" --pid "$pid" --timeout 900)" ||
    federated='{"failed": true}'
  delete_ns "$fed_ns" ${list//,/ }
  jq -nc --argjson idle "$idle" --argjson floor "$floor" --argjson fed "$federated" \
    '{ members: $idle.members, idle: $idle, floor: $floor, federated: $fed,
       ratio: (if ($floor.converged_s and $fed.converged_s) then ($fed.converged_s / $floor.converged_s * 100 | round / 100) else null end) }' \
    >>"$results"
done

jq -s --arg date "$(date -u +%FT%TZ)" --argjson cores "$(nproc)" --argjson count "$COUNT" '
  . as $rows
  | { taken: $date, machine: { cores: $cores }, deployments_per_cluster: $count,
      targets: { rss_mib_per_member_max: 5 },
      rows: [ range(0; $rows | length) as $i | $rows[$i]
              + (if $i == 0 then {} else
                  { rss_mib_per_added_member: ((($rows[$i].idle.rss_mib - $rows[$i - 1].idle.rss_mib)
                      / ($rows[$i].members - $rows[$i - 1].members)) * 100 | round / 100) } end)
              + { idle_cpu_percent_per_member: ($rows[$i].idle.cpu_percent / $rows[$i].members * 100 | round / 100) } ] }' \
  "$results" >"$OUT"

jq -r '
  "kubectl-fed scale benchmark (\(.machine.cores) cores; \(.deployments_per_cluster) Deployments per cluster)",
  "  N   floor s  federated s  ratio  RSS MiB  +MiB/member  idle CPU %  idle CPU %/member",
  (.rows[] | "  \(.members)   \(.floor.converged_s // "-")   \(.federated.converged_s // "-")   \(.ratio // "-")   \(.idle.rss_mib)   \(.rss_mib_per_added_member // "-")   \(.idle.cpu_percent)   \(.idle_cpu_percent_per_member)"),
  "  written to '"$OUT"'"' "$OUT"
if [[ "${FED_BENCH_PLOT:-0}" == 1 ]]; then python3 "$HACK_DIR/plot-scale.py" "$OUT" "$REPO_ROOT/docs/bench-scale.svg"; fi
