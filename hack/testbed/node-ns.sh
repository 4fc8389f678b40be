#!/usr/bin/env bash
# Holder of one test-bed node's private mount namespace (see hack/lib-node.sh). Started by
# hack/cluster-up.sh as `unshare --mount --propagation private -- bash node-ns.sh NODE_DIR
# SRC=DST...`: bind-mounts each SRC over DST (visible only inside this namespace), writes
# NODE_DIR/mntns (the namespace, for teardown) and then NODE_DIR/ready (its PID), and waits
# until SIGTERM. containerd and the kubelet join the namespace with `nsenter --mount`; it lives
# on until its last process exits, and its mounts go with it.
set -euo pipefail
node_dir="$1"
shift
for pair in "$@"; do
  src="${pair%%=*}" dst="${pair#*=}"
  [[ -e "$dst" ]] || { echo "node-ns: mount point $dst does not exist" >&2; exit 1; }
  mount --bind "$src" "$dst"
done
readlink /proc/self/ns/mnt >"$node_dir/mntns.tmp"
mv -f "$node_dir/mntns.tmp" "$node_dir/mntns"
echo $$ >"$node_dir/ready.tmp"
mv -f "$node_dir/ready.tmp" "$node_dir/ready"
echo "node-ns: $(<"$node_dir/mntns") ready with $# bind mounts"
trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM INT
sleep infinity &
sleeper=$!
wait "$sleeper"
