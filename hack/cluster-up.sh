#!/usr/bin/env bash
# Starts (or reuses) the local test bed: three control planes on 127.0.0.1, earth, vulcan
# and kronos, each with its own etcd, kube-apiserver and kube-controller-manager, and writes
# .local/kubeconfig (contexts earth/vulcan/kronos). Then one node per cluster named in
# FED_TESTBED_NODES (default "earth vulcan kronos"; empty: control planes only): the images of
# hack/images.sh, a private mount namespace, containerd (images imported), a kubelet and a
# kube-scheduler, waiting until every Node is Ready (hack/lib-node.sh describes the node).
#
# Idempotent: processes that are alive with an unchanged command line (and, for containerd
# and the kubelet, config file) are kept; dead ones are restarted with the same state (PKI,
# etcd data, images). A cluster whose PKI is missing or incomplete is wiped and created fresh;
# a node whose mount-namespace holder died is stopped whole and started afresh.
# Ports: see hack/lib.sh (FED_TESTBED_PORT_BASE).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
source "$HACK_DIR/testbed/versions.env"

start_time=$SECONDS
for tool in openssl curl flock setsid base64; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done
take_lock

bin="$("$HACK_DIR/testbed/build.sh")"
for c in "${COMPONENTS[@]}" kubelet kube-scheduler; do
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
      node_stop "$name"
      stop_processes "kube-controller-manager/$name" "kube-apiserver/$name"
      stop_processes "etcd/$name"
      rm -rf "$C_DIR"
    fi
    mkdir -p "$C_DIR/logs"
    gen_pki "$name"
    log "$name: generated PKI in $C_PKI"
  fi
  ensure_node_pki "$name"
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

# ---------------------------------------------------------------- nodes

node_clusters
declare -A node_started=()

nodes_up() {
  local name comp line f t0 restart
  declare -A cfg_changed=()
  # Nodes no longer wanted (FED_TESTBED_NODES changed) go first.
  # Their Node objects are deleted too (a stopped kubelet leaves its Node behind).
  for name in "${CLUSTERS[@]}" "${CLUSTERS[@]/%/-2}"; do
    [[ " ${NODES[*]} " == *" $name "* ]] && continue
    node_vars "$name"
    if [[ -d "$N_DIR" ]]; then
      log "$name: no node wanted (FED_TESTBED_NODES); stopping it"
      node_stop "$name"
      rm -rf "$N_DIR"
    fi
    line="$(_curl_admin "$C_NAME" "/api/v1/nodes/$N_NAME" || true)"
    if grep -q '"kind": *"Node"' <<<"$line"; then
      curl -s --max-time 5 --cacert "$C_PKI/ca.crt" --cert "$C_PKI/admin.crt" --key "$C_PKI/admin.key" \
        -X DELETE "https://127.0.0.1:$C_API_PORT/api/v1/nodes/$N_NAME" >/dev/null
      log "$C_NAME: deleted Node $N_NAME"
    fi
  done
  if [[ ${#NODES[@]} -eq 0 ]]; then host_state_release; return 0; fi
  node_debs
  "$HACK_DIR/images.sh" --no-build
  # shellcheck disable=SC1091
  source "$LOCAL_DIR/images.env"
  host_state_acquire
  t0=$SECONDS
  for name in "${NODES[@]}"; do
    # A dead holder means a dead namespace: stop what is left of the node, then start afresh.
    restart=1
    if is_running node-ns "$name"; then
      node_component_cmd node-ns "$name" "$bin"
      [[ "$(cmd_line)" == "$(cat "$(cmd_file node-ns "$name")")" ]] && restart=0
    fi
    if ((restart)) && [[ -d "$CLUSTERS_DIR/$name/node" ]]; then
      node_stop "$name"
    fi
    node_prepare "$name" "$FED_PAUSE_IMAGE"
    cfg_changed[$name]=" ${NODE_CONFIG_CHANGED[*]} "
    if ((restart)); then
      node_component_cmd node-ns "$name" "$bin"
      cmd_line >"$(cmd_file node-ns "$name")"
      rm -f "$N_DIR/ready"
      start_process node-ns "$name"
    fi
  done
  for name in "${NODES[@]}"; do wait_ready node-ns "$name"; done
  for comp in containerd kubelet kube-scheduler; do
    for name in "${NODES[@]}"; do
      [[ "$comp" == kube-scheduler ]] && ! node_runs_scheduler "$name" && continue
      node_component_cmd "$comp" "$name" "$bin"
      line="$(cmd_line)"
      f="$(cmd_file "$comp" "$name")"
      if is_running "$comp" "$name"; then
        [[ -f "$f" && "$(<"$f")" == "$line" && "${cfg_changed[$name]}" != *" $comp "* ]] && continue
        log "$name: command line or config of $comp changed; restarting it"
        stop_processes "$comp/$name"
      fi
      printf '%s\n' "$line" >"$f"
      start_process "$comp" "$name"
      node_started[$comp/$name]=$SECONDS
    done
    for name in "${NODES[@]}"; do
      [[ "$comp" == kube-scheduler ]] && ! node_runs_scheduler "$name" && continue
      wait_ready "$comp" "$name"
    done
    if [[ "$comp" == containerd ]]; then
      for name in "${NODES[@]}"; do node_import_images "$name"; done
    fi
  done
  # Every Node Ready, or fail with the kubelet's log.
  local deadline=$((SECONDS + NODE_READY_TIMEOUT)) pending status
  while :; do
    pending=()
    for name in "${NODES[@]}"; do
      status="$(node_ready_status "$name")"
      if [[ "$status" == True ]]; then
        if [[ -n "${node_started[kubelet/$name]:-}" && -z "${node_started[ready/$name]:-}" ]]; then
          node_started[ready/$name]=$SECONDS
          node_vars "$name"
          log "node $N_NAME Ready $((SECONDS - node_started[kubelet/$name]))s after its kubelet started"
        fi
      else
        pending+=("$name")
        is_running kubelet "$name" || _fail_with_log kubelet "$name" "kubelet of $name exited"
      fi
    done
    [[ ${#pending[@]} -eq 0 ]] && break
    ((SECONDS < deadline)) ||
      _fail_with_log kubelet "${pending[0]}" "nodes of ${pending[*]} not Ready after ${NODE_READY_TIMEOUT}s"
    sleep 0.25
  done
  log "nodes of ${NODES[*]} Ready; node bring-up (after the images) took $((SECONDS - t0))s"
}

print_summary() {
  echo "Test bed (Kubernetes v$K8S_VERSION, etcd v$ETCD_VERSION) ready in $((SECONDS - start_time))s:"
  printf '  %-8s %-26s %-24s %-22s %s\n' context apiserver etcd kcm-healthz service-cidr
  for name in "${CLUSTERS[@]}"; do
    cluster_vars "$name"
    printf '  %-8s %-26s %-24s %-22s %s\n' "$name" "https://127.0.0.1:$C_API_PORT" \
      "http://127.0.0.1:$C_ETCD_PORT" "127.0.0.1:$C_KCM_PORT" "$C_SVC_CIDR"
  done
  if [[ ${#NODES[@]} -gt 0 ]]; then
    printf '  %-14s %-16s %-16s %-16s %s
' node kubelet scheduler pod-cidr bridge
    for name in "${NODES[@]}"; do
      node_vars "$name"
      printf '  %-14s %-16s %-16s %-16s %s
' "$N_NAME" "127.0.0.1:$N_KUBELET_PORT"         "127.0.0.1:$N_SCHED_PORT" "$N_POD_CIDR" "$N_BRIDGE"
    done
    echo "  containerd: ctr -a $CLUSTERS_DIR/<name>/node/run/containerd/containerd.sock -n k8s.io …"
    echo "  images: $LOCAL_DIR/images.env"
  fi
  echo "  state and logs: $CLUSTERS_DIR/<name>/{pki,etcd,logs,node}"
  echo "  fault injection: hack/cluster-ctl.sh stop|start|kill|status COMPONENT CLUSTER"
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

control_planes_ready=0
if [[ ${#need[@]} -eq 0 ]]; then
  healthy=1
  for name in "${CLUSTERS[@]}"; do
    for comp in "${COMPONENTS[@]}"; do probe "$comp" "$name" || healthy=0; done
  done
  if ((healthy)); then
    log "control planes already running"
    control_planes_ready=1
  else
    log "all processes are alive but not all are healthy yet; waiting"
  fi
fi

if ((control_planes_ready == 0)); then
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
fi
nodes_up
print_summary
