#!/usr/bin/env bash
# Stops every test-bed process by the PIDs recorded in .local/clusters/*/*.pid (never by
# name): SIGTERM, then SIGKILL after FED_TESTBED_STOP_TIMEOUT (default 20) seconds.
# Nodes first (hack/lib-node.sh node_stop): kubelet and kube-scheduler, every container (by
# the PIDs in the node's cgroups), containerd, then every process left in the node's mount
# namespace (shims, the holder); then its cgroups and bridge. Then the control planes; then,
# if no other bed on the machine still has nodes, the host state the nodes changed (sysctls,
# created mount points). Then removes .local/clusters and .local/kubeconfig (the image cache
# .local/images stays). Safe to call when nothing runs.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

take_lock
names=()
if [[ -d "$CLUSTERS_DIR" ]]; then
  for d in "$CLUSTERS_DIR"/*/; do
    [[ -d "$d" ]] && names+=("$(basename "$d")")
  done
fi

for name in "${names[@]+"${names[@]}"}"; do node_stop "$name"; done
host_state_release

upper=() lower=()
for name in "${names[@]+"${names[@]}"}"; do
  upper+=("kube-controller-manager/$name" "kube-apiserver/$name")
  lower+=("etcd/$name")
done
# Control-plane processes first, then etcd, so the apiservers shut down cleanly.
[[ ${#upper[@]} -gt 0 ]] && stop_processes "${upper[@]}"
[[ ${#lower[@]} -gt 0 ]] && stop_processes "${lower[@]}"

rm -rf "$CLUSTERS_DIR" "$KUBECONFIG_PATH"
log "test bed down (${names[*]:-nothing was running}); removed $CLUSTERS_DIR and $KUBECONFIG_PATH"
