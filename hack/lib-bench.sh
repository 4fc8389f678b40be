# Shared by the benchmark scripts (hack/bench-*.sh): CPU and API-request accounting of the
# test bed's processes between two moments. Needs hack/lib.sh sourced first, and `k` (kubectl
# --context) and HOST (the host cluster) defined by the caller.

# Deletes namespace NS everywhere: on the host first (sources and federated objects; the
# controllers delete the member copies), then on the members (CLUSTER…, default the bed's).
# Bounded; warns instead of failing.
delete_ns() {
  local ns="$1" c
  shift
  local members=("${@:-${CLUSTERS[@]}}")
  if k "$HOST" get ns "$ns" >/dev/null 2>&1; then
    k "$HOST" delete ns "$ns" --wait=false >/dev/null 2>&1 || true
    k "$HOST" wait --for=delete "ns/$ns" --timeout=600s >/dev/null 2>&1 ||
      log "WARNING: namespace $ns still present on $HOST after 600s"
  fi
  for c in "${members[@]}"; do
    [[ "$c" == "$HOST" ]] && continue
    k "$c" delete ns "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  done
  for c in "${members[@]}"; do
    [[ "$c" == "$HOST" ]] && continue
    k "$c" wait --for=delete "ns/$ns" --timeout=300s >/dev/null 2>&1 ||
      log "WARNING: namespace $ns still present on $c after 300s"
  done
}

# Every namespace this script ever made starts with bench-; a run that was interrupted leaves
# some behind. Names from other engineers' tests never start with bench-.
leftovers() {
  local c
  for c in "${CLUSTERS[@]}"; do
    k "$c" get ns -o name 2>/dev/null | sed -n 's|^namespace/\(bench-.*\)|\1|p'
  done | sort -u
}
cleanup_all() {
  local ns
  for ns in $(leftovers); do delete_ns "$ns"; done
}

# CPU accounting: "name ticks" for every test-bed process, for each NAME=PID argument (the
# controllers measured), and for the machine.
cpu_snapshot() {
  local f c comp p arg
  for f in "$CLUSTERS_DIR"/*/*.pid; do
    c="$(basename "$(dirname "$f")")"; comp="$(basename "$f" .pid)"; p="$(cat "$f")"
    [[ -r /proc/$p/stat ]] && echo "$c/$comp $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")"
  done
  for arg in "$@"; do
    p="${arg#*=}"
    [[ -r /proc/$p/stat ]] && echo "${arg%%=*} $(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")"
  done
  awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print "machine-total", t; print "machine-idle", $5 + $6 }' /proc/stat
}
# cpu_delta BEFORE AFTER WALL_S: JSON { cores_busy, wall_s, cpu_seconds: { process: s } } (CLK_TCK 100).
cpu_delta() {
  join <(sort "$1") <(sort "$2") | awk -v wall="$3" '
    { d[$1] = $3 - $2 }
    END {
      printf "{\"wall_s\":%.1f,\"machine_busy\":%.3f,\"machine_busy_cpu_seconds\":%.1f,\"cpu_seconds\":{", wall,
        1 - d["machine-idle"] / d["machine-total"], (d["machine-total"] - d["machine-idle"]) / 100
      sep = ""
      for (k in d) if (k !~ /^machine-/) { printf "%s\"%s\":%.2f", sep, k, d[k] / 100; sep = "," }
      printf "}}\n"
    }'
}

# API requests per cluster, verb, resource[/subresource] and code class (apiserver_request_total):
# which calls a phase cost, whoever made them (the e2e tests of others show up too).
req_snapshot() {
  local c
  for c in "${CLUSTERS[@]}"; do
    k "$c" get --raw /metrics 2>/dev/null | awk -v c="$c" '
      /^apiserver_request_total\{/ {
        code = verb = res = sub_ = ""
        n = split(substr($1, index($1, "{") + 1), kv, ",")
        for (i = 1; i <= n; i++) {
          split(kv[i], p, "="); gsub(/[\"}]/, "", p[2])
          if (p[1] == "code") code = substr(p[2], 1, 1) "xx"
          if (p[1] == "verb") verb = p[2]
          if (p[1] == "resource") res = p[2]
          if (p[1] == "subresource") sub_ = p[2]
        }
        if (res == "") next
        key = c "/" verb "/" res (sub_ == "" ? "" : "/" sub_) "/" code
        t[key] += $2
      }
      END { for (k in t) print k, t[k] }'
  done
}
# req_delta BEFORE AFTER: JSON { "cluster/VERB/resource/code": n } for n > 0.
req_delta() {
  join -a 2 -e 0 -o 0,1.2,2.2 <(sort "$1") <(sort "$2") | awk '
    BEGIN { printf "{"; sep = "" }
    $3 - $2 > 0 { printf "%s\"%s\":%d", sep, $1, $3 - $2; sep = "," }
    END { printf "}\n" }'
}

