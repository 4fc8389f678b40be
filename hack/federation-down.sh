#!/usr/bin/env bash
# Stops the host component that hack/federation-up.sh started, leaving the clusters running
# (hack/cluster-down.sh stops those):
#   cluster form (default): scales its Deployment in earth to 0 and waits until its pods are
#     gone (the installation stays; hack/federation-up.sh scales it back);
#   local form (FED_HOST_MODE=local): stops the fed-webhook process by its PID file.
# The local process is stopped in either mode if one runs.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
FED_DIR="$LOCAL_DIR/federation"
FED_NS=kube-federation-system
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
if [[ "${FED_HOST_MODE:-cluster}" == cluster && -s "$KUBECONFIG_PATH" ]] &&
   KUBECONFIG="$KUBECONFIG_PATH" kubectl --context earth -n "$FED_NS" get deployment kubectl-fed-webhook >/dev/null 2>&1; then
  export KUBECONFIG="$KUBECONFIG_PATH"
  kubectl --context earth -n "$FED_NS" scale deployment kubectl-fed-webhook --replicas=0 >/dev/null
  deadline=$((SECONDS + 60))
  while [[ -n "$(kubectl --context earth -n "$FED_NS" get pods -l app.kubernetes.io/component=webhook -o name)" ]]; do
    ((SECONDS < deadline)) || die "the host component's pods were still there 60s after scaling to 0"
    sleep 0.2
  done
  log "scaled the host component in earth to 0; its pods are gone"
fi
