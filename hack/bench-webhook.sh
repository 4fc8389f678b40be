#!/usr/bin/env bash
# `make bench-webhook`: admission latency and throughput of fed-webhook, measured with oha (a real
# HTTP load generator, separate process) over TLS with keep-alive, on loopback only.
#
#   1. the federation must be up (hack/federation-up.sh, run here unless FED_BENCH_NO_UP=1) so the
#      webhook's caches hold joined clusters and enabled types and the benchmark request is
#      admitted like a real one;
#   2. the request: an admission.k8s.io/v1 AdmissionReview of a CREATE of a Deployment annotated
#      `kubefed.io/placement: earth,vulcan` plus overrides, as the apiserver sends it after
#      `kubectl apply` (defaults, managedFields, last-applied-configuration; ~3 KB), printed by
#      `fed-bench review` — once as it reaches /mutate, once (mutated) as it reaches /validate;
#   3. fixed rate: $RATE req/s for $DURATION against /validate and /mutate ($CONNS keep-alive
#      connections, oha --latency-correction so a stall counts against every request it delays);
#   4. saturation: no rate limit, $SAT_DURATION each at $SAT_CONNS connections against /validate;
#   5. the webhook's CPU time and VmRSS/VmHWM from /proc/<pid> around each run; machine-wide CPU
#      use from /proc/stat (everything else on the 2 cores shows up there).
#
# Which webhook (FED_BENCH_WEBHOOK):
#   release (default)  a private, release-built `fed-webhook serve --no-controllers` on
#                      127.0.0.1:$((PORT_BASE + 48)) against earth (admission is read-only, so it
#                      runs beside the shared one without touching anything); stopped afterwards.
#   shared             the process hack/federation-up.sh started (debug build, controllers on).
#
# Output: .local/bench/webhook.json (+ raw oha JSON under .local/bench/oha/), summary on stdout.
# Knobs: FED_BENCH_RATE (2000) FED_BENCH_DURATION (20s) FED_BENCH_CONNS (8)
#        FED_BENCH_SAT_DURATION (10s) FED_BENCH_SAT_CONNS ("1 4 16 64") FED_BENCH_TOOLS (oha cache)
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
export KUBECONFIG="$KUBECONFIG_PATH"

MODE="${FED_BENCH_WEBHOOK:-release}"
RATE="${FED_BENCH_RATE:-2000}"
DURATION="${FED_BENCH_DURATION:-20s}"
CONNS="${FED_BENCH_CONNS:-8}"
SAT_DURATION="${FED_BENCH_SAT_DURATION:-10s}"
read -r -a SAT_CONNS <<<"${FED_BENCH_SAT_CONNS:-1 4 16 64}"
TOOLS="${FED_BENCH_TOOLS:-$HOME/.cache/kubectl-fed/tools}"
OHA_VERSION=1.16.0
BENCH_DIR="$LOCAL_DIR/bench"
OUT="$BENCH_DIR/webhook.json"
TARGET_ROOT="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
mkdir -p "$BENCH_DIR/oha"

need() { command -v "$1" >/dev/null || die "$1 is required"; }
need jq; need curl

# ---------------------------------------------------------------- tools
oha="$(cargo_tool "$TOOLS" oha "$OHA_VERSION")"
(cd "$REPO_ROOT" && cargo build -q -p fed-bench)
bench="$TARGET_ROOT/debug/fed-bench"

# ---------------------------------------------------------------- the webhook under test
[[ "${FED_BENCH_NO_UP:-0}" == 1 ]] || "$HACK_DIR/federation-up.sh"
FED_DIR="$LOCAL_DIR/federation"
private_pid=""
cleanup() {
  if [[ -n "$private_pid" ]] && [[ -e /proc/$private_pid ]]; then
    kill "$private_pid" 2>/dev/null || true
    for _ in $(seq 50); do [[ -e /proc/$private_pid ]] || break; sleep 0.1; done
    [[ -e /proc/$private_pid ]] && kill -9 "$private_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

case "$MODE" in
  shared)
    pid="$(cat "$FED_DIR/fed-webhook.pid")"
    url="https://127.0.0.1:$((PORT_BASE + 47))"
    ca="$FED_DIR/pki/ca.crt"
    build="debug (hack/federation-up.sh, controllers running)"
    ;;
  release)
    log "building fed-webhook (release; a few minutes when its sources changed)"
    (cd "$REPO_ROOT" && cargo build --release -p fed-webhook --bin fed-webhook 2>&1 | grep -E '^error|Finished' >&2) ||
      die "release build of fed-webhook failed"
    bin="$TARGET_ROOT/release/fed-webhook"
    "$bin" certs --out-dir "$BENCH_DIR/pki" --ip 127.0.0.1 2>/dev/null
    port=$((PORT_BASE + 48))
    url="https://127.0.0.1:$port"
    ca="$BENCH_DIR/pki/ca.crt"
    "$bin" serve --no-controllers --tls-cert "$BENCH_DIR/pki/tls.crt" --tls-key "$BENCH_DIR/pki/tls.key" \
      --listen "127.0.0.1:$port" --kubeconfig "$KUBECONFIG_PATH" --context earth \
      9>&- >"$BENCH_DIR/fed-webhook-release.log" 2>&1 </dev/null &
    private_pid=$!
    pid=$private_pid
    build="release (private instance, --no-controllers)"
    ;;
  *) die "FED_BENCH_WEBHOOK must be release or shared (got '$MODE')" ;;
esac
deadline=$((SECONDS + 60))
until curl -sf --cacert "$ca" "$url/readyz" >/dev/null; do
  [[ -e /proc/$pid ]] || die "fed-webhook (pid $pid) exited; see its log"
  ((SECONDS < deadline)) || die "fed-webhook at $url not ready after 60s"
  sleep 0.2
done

# ---------------------------------------------------------------- requests
"$bench" review --stage mutate --placement earth,vulcan | jq -c . >"$BENCH_DIR/review-mutate.json"
"$bench" review --stage validate --placement earth,vulcan | jq -c . >"$BENCH_DIR/review-validate.json"
for ep in mutate validate; do
  answer="$(curl -sf --cacert "$ca" -H 'Content-Type: application/json' --data-binary "@$BENCH_DIR/review-$ep.json" "$url/$ep")" ||
    die "POST $url/$ep failed"
  allowed="$(jq -r .response.allowed <<<"$answer")"
  [[ "$allowed" == true ]] || die "/$ep did not admit the benchmark request (is the federation up, deployments enabled?): $(jq -c .response.status <<<"$answer")"
done
body_bytes="$(stat -c %s "$BENCH_DIR/review-validate.json")"
log "webhook $url (pid $pid, $build); request body $body_bytes bytes; both endpoints admit it"

# ---------------------------------------------------------------- measurement helpers
clk="$(getconf CLK_TCK)"
proc_cpu() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }     # utime+stime ticks
proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
machine_cpu() { awk '/^cpu / { idle = $5 + $6; total = 0; for (i = 2; i <= NF; i++) total += $i; print total, idle }' /proc/stat; }

# The webhook's own latency histogram (time inside the request handler: body read, decision,
# response serialisation) as "le count" lines for ENDPOINT.
handler_hist() {
  curl -sf --cacert "$ca" "$url/metrics" |
    awk -v ep="$1" -F'[{}" ]+' '/^fed_webhook_request_duration_seconds_bucket/ && $0 ~ "endpoint=\"" ep "\"" {
      for (i = 1; i <= NF; i++) if ($i == "le=") le = $(i + 1)
      print le, $NF }'
}
# handler_quantiles BEFORE AFTER: JSON { requests, p50_le_ms, p99_le_ms, p999_le_ms } — the upper
# bucket bound under which that share of the run's requests finished inside the handler.
handler_quantiles() {
  paste -d' ' "$1" "$2" | awk '
    { le[NR] = $1; n[NR] = $4 - $2 } END {
      total = n[NR]; split("0.5 0.99 0.999", q, " "); split("p50_le_ms p99_le_ms p999_le_ms", k, " ")
      printf "{\"requests\":%d", total
      for (j = 1; j <= 3; j++) {
        for (i = 1; i <= NR; i++) if (n[i] >= q[j] * total) break
        printf ",\"%s\":%s", k[j], (le[i] == "+Inf" ? "null" : le[i] * 1000)
      }
      printf "}\n" }'
}

# run NAME ENDPOINT OHA-ARGS...: runs oha, writes $BENCH_DIR/oha/NAME.json, prints a JSON line.
run() {
  local name="$1" ep="$2"; shift 2
  local raw="$BENCH_DIR/oha/$name.json" sampler maxfile="$BENCH_DIR/oha/$name.maxrss"
  echo 0 >"$maxfile"
  ( m=0; while [[ -e /proc/$pid ]]; do r="$(proc_kib "$pid" VmRSS)"; ((r > m)) && { m=$r; echo "$m" >"$maxfile"; }; sleep 0.2; done ) &
  sampler=$!
  local c0 m0 t0 c1 m1 t1
  handler_hist "$ep" >"$BENCH_DIR/oha/$name.hist0"
  c0="$(proc_cpu "$pid")"; m0="$(machine_cpu)"; t0="$(date +%s.%N)"
  "$oha" --no-tui --output-format json -o "$raw" -m POST -T application/json -D "$BENCH_DIR/review-$ep.json" \
    --cacert "$ca" "$@" "$url/$ep" >/dev/null
  c1="$(proc_cpu "$pid")"; m1="$(machine_cpu)"; t1="$(date +%s.%N)"
  handler_hist "$ep" >"$BENCH_DIR/oha/$name.hist1"
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  jq -c --arg name "$name" --arg ep "/$ep" --arg args "$*" \
    --argjson handler "$(handler_quantiles "$BENCH_DIR/oha/$name.hist0" "$BENCH_DIR/oha/$name.hist1")" \
    --argjson wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" --argjson cpu "$(( c1 - c0 ))" --argjson clk "$clk" \
    --argjson mt "$(( ${m1% *} - ${m0% *} ))" --argjson mi "$(( ${m1#* } - ${m0#* } ))" \
    --argjson maxrss "$(cat "$maxfile")" --argjson hwm "$(proc_kib "$pid" VmHWM)" '
    def ms: . * 1000 * 1000 | round / 1000;
    { name: $name, endpoint: $ep, oha_args: $args,
      requests: ([.statusCodeDistribution[]] | add // 0),
      status_codes: .statusCodeDistribution, errors: .errorDistribution,
      success_rate: .summary.successRate, requests_per_s: (.summary.requestsPerSec | round),
      latency_ms: { p50: (.latencyPercentiles.p50 | ms), p90: (.latencyPercentiles.p90 | ms),
                    p99: (.latencyPercentiles.p99 | ms), "p99.9": (.latencyPercentiles["p99.9"] | ms),
                    max: (.summary.slowest | ms), mean: (.summary.average | ms) },
      handler_latency: $handler,
      webhook: { cpu_cores_mean: (($cpu / $clk) / $wall * 1000 | round / 1000),
                 rss_mib_max: ($maxrss / 1024 * 10 | round / 10), hwm_mib: ($hwm / 1024 * 10 | round / 10) },
      machine_cpu_busy: ((1 - $mi / $mt) * 1000 | round / 1000) }' "$raw"
}

# ---------------------------------------------------------------- runs
results=()
log "warm-up: 2s at $RATE req/s"
run warmup validate -q "$RATE" -z 2s -c "$CONNS" --worker-threads 1 >/dev/null
for ep in validate mutate; do
  log "fixed rate: $RATE req/s for $DURATION against /$ep ($CONNS connections, latency correction)"
  results+=("$(run "rate-$ep" "$ep" -q "$RATE" -z "$DURATION" -c "$CONNS" --latency-correction --worker-threads 1)")
done
for c in "${SAT_CONNS[@]}"; do
  log "saturation: /validate for $SAT_DURATION with $c connections"
  results+=("$(run "saturate-c$c" validate -z "$SAT_DURATION" -c "$c")")
done

printf '%s\n' "${results[@]}" | jq -s \
  --arg url "$url" --arg build "$build" --argjson body "$body_bytes" --argjson rate "$RATE" \
  --arg oha "$("$oha" --version)" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  --argjson cores "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg date "$(date -u +%FT%TZ)" '
  { taken: $date, machine: { cores: $cores, cpu: $cpu, loadavg_after: $load },
    webhook: { url: $url, build: $build }, load_generator: $oha, request_body_bytes: $body,
    target: { rate: $rate, p99_ms_max: 1 },
    fixed_rate: [ .[] | select(.name | startswith("rate-")) ],
    saturation: [ .[] | select(.name | startswith("saturate-")) ] }' >"$OUT"

jq -r '
  "fed-webhook admission benchmark (\(.webhook.build); body \(.request_body_bytes) B; \(.machine.cores) cores, load generator on the same machine)",
  (.fixed_rate[] | "  \(.endpoint) at \(.requests_per_s) req/s: p50 \(.latency_ms.p50) ms  p99 \(.latency_ms.p99) ms  p99.9 \(.latency_ms["p99.9"]) ms  max \(.latency_ms.max) ms; in the handler p99 ≤ \(.handler_latency.p99_le_ms) ms  (ok \(.success_rate * 100 | floor)%; webhook \(.webhook.cpu_cores_mean) cores, RSS \(.webhook.rss_mib_max) MiB; machine busy \(.machine_cpu_busy * 100 | round)%)"),
  (.saturation[] | "  saturated \(.endpoint), \(.oha_args | capture("-c (?<c>[0-9]+)").c) conns: \(.requests_per_s) req/s, p50 \(.latency_ms.p50) ms p99 \(.latency_ms.p99) ms (webhook \(.webhook.cpu_cores_mean) cores)"),
  "  target p99 <= 1 ms at \(.target.rate) req/s: \(if ([.fixed_rate[].latency_ms.p99] | max) <= 1 then "met" else "MISSED" end)",
  "  written to '"$OUT"'"' "$OUT"
