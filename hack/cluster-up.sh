#!/usr/bin/env bash
# Starts (or reuses) the local test bed: three single-node control planes on 127.0.0.1,
# earth, vulcan and kronos, each with its own etcd, kube-apiserver and
# kube-controller-manager, and writes .local/kubeconfig (contexts earth/vulcan/kronos).
#
# Idempotent: processes that are alive with an unchanged command line are kept; dead ones
# are restarted with the same state (PKI, etcd data). A cluster whose PKI is missing or
# incomplete is wiped and created fresh. Ports: see hack/lib.sh (FED_TESTBED_PORT_BASE).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
source "$HACK_DIR/testbed/versions.env"

start_time=$SECONDS
for tool in openssl curl flock setsid base64; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
take_lock

bin="$("$HACK_DIR/testbed/build.sh")"
for c in "${COMPONENTS[@]}"; do
  [[ -x "$bin/$c" ]] || die "build.sh did not produce $bin/$c"
done

mkdir -p "$CLUSTERS_DIR"
declare -A need=()
changed=()
for name in "${CLUSTERS[@]}"; do
  cluster_vars "$name"
  if ! pki_complete "$name"; then
    if [[ -d "$C_DIR" ]]; then
      log "$name: PKI missing or incomplete; recreating the cluster from scratch"
      stop_processes "kube-controller-manager/$name" "kube-apiserver/$name"
      stop_processes "etcd/$name"
      rm -rf "$C_DIR"
    fi
    mkdir -p "$C_DIR/logs"
    gen_pki "$name"
    log "$name: generated PKI in $C_PKI"
  fi
  mkdir -p "$C_DIR/logs"
  kubeconfig_for kcm "$name" "$name" | write_file_atomic "$C_DIR/kcm.kubeconfig"
  for comp in "${COMPONENTS[@]}"; do
    component_cmd "$comp" "$name" "$bin"
    line="$(cmd_line)"
    f="$(cmd_file "$comp" "$name")"
    if is_running "$comp" "$name"; then
      if [[ -f "$f" && "$(<"$f")" == "$line" ]]; then
        continue
      fi
      log "$name: command line of $comp changed; restarting it"
      changed+=("$comp/$name")
    fi
    printf '%s\n' "$line" >"$f.new"
    need["$comp/$name"]=1
  done
done
# Stop processes whose command line changed (all at once), then record the new commands.
[[ ${#changed[@]} -gt 0 ]] && stop_processes "${changed[@]}"
for key in "${!need[@]}"; do
  f="$(cmd_file "${key%%/*}" "${key##*/}")"
  mv -f "$f.new" "$f"
done
kubeconfig_for admin earth "${CLUSTERS[@]}" | write_file_atomic "$KUBECONFIG_PATH"

print_summary() {
  echo "Test bed (Kubernetes v$K8S_VERSION, etcd v$ETCD_VERSION) ready in $((SECONDS - start_time))s:"
  printf '  %-8s %-26s %-24s %-22s %s\n' context apiserver etcd kcm-healthz service-cidr
  for name in "${CLUSTERS[@]}"; do
    cluster_vars "$name"
    printf '  %-8s %-26s %-24s %-22s %s\n' "$name" "https://127.0.0.1:$C_API_PORT" \
      "http://127.0.0.1:$C_ETCD_PORT" "127.0.0.1:$C_KCM_PORT" "$C_SVC_CIDR"
  done
  echo "  state and logs: $CLUSTERS_DIR/<name>/{pki,etcd,logs}"
  echo "  fault injection: hack/cluster-ctl.sh stop|start|kill|status COMPONENT CLUSTER"
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

if [[ ${#need[@]} -eq 0 ]]; then
  healthy=1
  for name in "${CLUSTERS[@]}"; do
    for comp in "${COMPONENTS[@]}"; do probe "$comp" "$name" || healthy=0; done
  done
  if ((healthy)); then
    log "test bed already running"
    print_summary
    exit 0
  fi
  log "all processes are alive but not all are healthy yet; waiting"
fi

# Start in dependency order, the three clusters in parallel at each step.
for comp in "${COMPONENTS[@]}"; do
  for name in "${CLUSTERS[@]}"; do
    [[ -n "${need["$comp/$name"]:-}" ]] && start_process "$comp" "$name"
  done
  for name in "${CLUSTERS[@]}"; do wait_ready "$comp" "$name"; done
  log "$comp healthy on ${CLUSTERS[*]} after $((SECONDS - start_time))s"
done
for name in "${CLUSTERS[@]}"; do wait_default_sa "$name"; done
log "ServiceAccount default/default present on ${CLUSTERS[*]}"
print_summary
