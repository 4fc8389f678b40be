#!/usr/bin/env bash
# Stops the host component (fed-webhook) that hack/federation-up.sh started, by its PID file.
# Leaves the clusters running (hack/cluster-down.sh stops those).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
FED_DIR="$LOCAL_DIR/federation"
pid_file="$FED_DIR/fed-webhook.pid"
if [[ -f "$pid_file" ]]; then
  pid="$(cat "$pid_file")"
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q fed-webhook; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    [[ -e /proc/$pid ]] && kill -9 "$pid" 2>/dev/null || true
    log "stopped fed-webhook (pid $pid)"
  fi
  rm -f "$pid_file"
fi
