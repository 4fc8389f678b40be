# Nodes of the local test bed: one per cluster in FED_TESTBED_NODES (default "earth vulcan
# kronos"; empty = control planes only). Sourced by hack/lib.sh.
#
# A node is containerd + runc + the CNI bridge plugin (Debian packages) and a kubelet, plus one
# kube-scheduler per cluster. Node name <cluster>-node. The node IP is the node's bridge
# address (the pod CIDR's first address, a local address of the host), not 127.0.0.1: kubelet
# refuses a loopback node IP ("nodeIP can't be loopback address") and then reports no address,
# so the apiserver could not reach it for logs/exec. The kubelet serves on that address; its
# /healthz, kube-scheduler and everything else stay on 127.0.0.1.
#
# Isolation. Kubelets collide on fixed paths (/var/lib/kubelet/device-plugins,
# /var/log/containers, /run/containerd/{s,runc}, /var/run/netns, /var/lib/cni). So each node
# has a private mount namespace: its holder process ("node-ns", hack/testbed/node-ns.sh, started
# with `unshare --mount --propagation private`) bind-mounts the node's own directories over
# those paths and waits; containerd and the kubelet are started with `nsenter --mount` into it,
# so their recorded PIDs are the real processes. Everything shares the root network namespace:
# kubelets and hostNetwork pods reach every apiserver on 127.0.0.1 as the kubeconfig says.
# The namespace also swaps /etc/resolv.conf for one naming 127.0.0.1 only, so an image that is
# not on the node can never be pulled from outside (the pull fails at once); pods get the same.
#
# Network. A bridge per node, created by the bed with the first address of the pod CIDR, so the
# host reaches pod IPs directly on the link: no isGateway/ipMasq/portmap (they would set
# net.ipv4.ip_forward and add iptables rules), no kube-proxy (several in one network namespace
# would fight over iptables; Services get ClusterIPs that do not route, and the apiserver dials
# webhook endpoints directly: --enable-aggregator-routing). Kubelet runs with
# makeIPTablesUtilChains: false, so it adds no iptables chains either.
#
# Host state. Kubelet sets six sysctls (vm.overcommit_memory, vm.panic_on_oom, kernel.panic,
# kernel.panic_on_oops, kernel.keys.root_maxkeys, kernel.keys.root_maxbytes) and the mount
# points above must exist on the host. Both are machine-wide, shared by every bed on the
# machine (other worktrees run beds on other port bases), so they are recorded in
# HOST_STATE_DIR (/run/kubectl-fed-testbed: the originals once, the directories we created,
# one file per bed using them) and restored by the last bed to leave (hack/cluster-down.sh).
# Per-node state (bridge, cgroups under /<cgroup root> in every v1 hierarchy and the unified
# one, processes) is removed by node_stop.
#
# Layout (under .local/clusters/<name>/):
#   node/node.env                  what teardown needs: bridge, cgroup root, pod CIDR, node name
#   node/mntns                     the holder's mount namespace (readlink /proc/PID/ns/mnt)
#   node/kubelet/                  -> /var/lib/kubelet    node/log/{containers,pods} -> /var/log/...
#   node/run/containerd/           -> /run/containerd: containerd's state and its socket
#                                     containerd.sock (host path: node_socket NAME)
#   node/run/netns -> /run/netns   node/cni/lib -> /var/lib/cni   node/resolv.conf -> /etc/resolv.conf
#   node/containerd/{root,opt}     images and snapshots     node/cni/net.d/  the CNI conflist
#   node/{containerd.toml,kubelet.yaml,kubelet.kubeconfig}
#   scheduler.kubeconfig, pki/{kubelet-client,kubelet-serving,apiserver-kubelet-client,scheduler}.*
#
# Ports (distance from FED_TESTBED_PORT_BASE, cluster index i, node slot j: i for a cluster's
# first node, 3+i for its second): kube-scheduler +20+i, kubelet +30+j, kubelet healthz +36+j.
# Pod CIDR 10.244.<(6*(PORT_BASE/1000) + j) % 250>.0/24, bridge fb<PORT_BASE>-<j>, cgroup root
# /fedbed-<PORT_BASE>-<key>. A second node's files live under .local/clusters/<cluster>-2/.

# shellcheck shell=bash
NODE_COMPONENTS=(node-ns containerd kubelet kube-scheduler)
HOST_STATE_DIR="${FED_TESTBED_HOST_STATE_DIR:-/run/kubectl-fed-testbed}"
# Fixed paths a kubelet or containerd uses whatever it is told; bind-mounted per node.
NODE_MOUNTS=(/var/lib/kubelet /var/log/containers /var/log/pods /run/containerd /run/netns /var/lib/cni)
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
NODE_READY_TIMEOUT="${FED_TESTBED_NODE_READY_TIMEOUT:-120}"

# Sets NODES to the node keys of FED_TESTBED_NODES (default "earth earth-2 vulcan kronos";
# validated, deduplicated). A key is a cluster name (the cluster's first node, <cluster>-node,
# which also runs the cluster's kube-scheduler) or <cluster>-2 (a second node, <cluster>-node-2:
# earth has two so that the host component's two hostNetwork replicas each get a node).
node_clusters() {
  local n
  NODES=()
  for n in ${FED_TESTBED_NODES-earth earth-2 vulcan kronos}; do
    [[ "$n" =~ ^[a-z]+(-2)?$ ]] || die "FED_TESTBED_NODES: '$n' is neither a cluster name nor <cluster>-2"
    cluster_index "${n%-2}" >/dev/null
    [[ " ${NODES[*]} " == *" $n "* ]] || NODES+=("$n")
  done
}

# The cluster of node KEY (earth-2 → earth).
node_cluster() { echo "${1%-2}"; }

# Sets N_KEY N_NAME N_DIR N_SOCK N_BRIDGE N_CGROUP N_POD_CIDR N_POD_GW N_NODE_IP N_SCHED_PORT
# N_KUBELET_PORT N_HEALTHZ_PORT N_CERT (the node's cert prefix in the cluster's PKI) and,
# through cluster_vars, the C_* variables, for node KEY. Slot j: the cluster's index for a
# first node, 3 + index for a second one.
node_vars() {
  local i j oct
  N_KEY="$1"
  cluster_vars "$(node_cluster "$1")"
  i="$(cluster_index "$C_NAME")"
  if [[ "$1" == "$C_NAME" ]]; then
    j=$i N_NAME="$C_NAME-node" N_CERT=kubelet
  else
    j=$((3 + i)) N_NAME="$C_NAME-node-2" N_CERT=kubelet-2
  fi
  N_DIR="$CLUSTERS_DIR/$1/node"
  N_SOCK="$N_DIR/run/containerd/containerd.sock"
  N_BRIDGE="fb$PORT_BASE-$j"
  N_CGROUP="fedbed-$PORT_BASE-$1"
  oct=$(((6 * (PORT_BASE / 1000) + j) % 250))
  N_POD_CIDR="10.244.$oct.0/24"
  N_POD_GW="10.244.$oct.1"
  N_NODE_IP="$N_POD_GW"
  N_SCHED_PORT=$((PORT_BASE + 20 + i))
  N_KUBELET_PORT=$((PORT_BASE + 30 + j))
  N_HEALTHZ_PORT=$((PORT_BASE + 36 + j))
}

# Whether node KEY runs its cluster's kube-scheduler (the cluster's first node does).
node_runs_scheduler() { [[ "$1" == "$(node_cluster "$1")" ]]; }

# The host path of NAME's containerd socket (for `ctr -a`; connect() limits paths to 107 bytes,
# else use node_ctr).
node_socket() { echo "$CLUSTERS_DIR/$1/node/run/containerd/containerd.sock"; }

# `ctr` against NAME's containerd, run inside the node's mount namespace (short socket path).
node_ctr() { # NAME ARGS...
  local name="$1" pid
  shift
  pid="$(running_pid node-ns "$name")" || die "the node of $name is not running"
  nsenter --mount="/proc/$pid/ns/mnt" -- ctr -a /run/containerd/containerd.sock -n k8s.io "$@"
}

# Installs missing Debian packages. Each argument is PROBE:PACKAGE, PROBE a command name or an
# absolute path that the package provides.
ensure_debs() {
  local item probe want=()
  for item in "$@"; do
    probe="${item%%:*}"
    if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && continue; else command -v "$probe" >/dev/null && continue; fi
    want+=("${item#*:}")
  done
  ((${#want[@]} == 0)) && return 0
  ((EUID == 0)) || die "missing packages ${want[*]} (install them, or run as root)"
  log "installing missing Debian packages: ${want[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >&2
}

node_debs() {
  ensure_debs /usr/bin/containerd:containerd /usr/sbin/runc:runc /usr/bin/ctr:containerd \
    /usr/lib/cni/bridge:containernetworking-plugins unshare:util-linux nsenter:util-linux \
    ip:iproute2 jq:jq sysctl:procps
}

# ---------------------------------------------------------------- host state (machine-wide)

# Runs "$@" holding the machine-wide host-state lock (flock on /run, shared by every bed; an
# error exits the script, which releases it).
_with_host_lock() {
  exec 8</run
  flock 8
  "$@"
  exec 8<&-
}

_bed_id() { echo "$LOCAL_DIR" | sha256sum | cut -c1-16; }

# Registers this bed as a user of the host state; the first user records the sysctls' original
# values and creates the missing mount points (recording each directory it made).
host_state_acquire() { _with_host_lock _host_state_acquire; }
_host_state_acquire() {
  local k d
  mkdir -p "$HOST_STATE_DIR/users"
  if [[ ! -s "$HOST_STATE_DIR/sysctl.orig" ]]; then
    for k in "${KUBELET_SYSCTLS[@]}"; do echo "$k=$(sysctl -n "$k")"; done >"$HOST_STATE_DIR/sysctl.orig.tmp"
    mv -f "$HOST_STATE_DIR/sysctl.orig.tmp" "$HOST_STATE_DIR/sysctl.orig"
    log "recorded host sysctls in $HOST_STATE_DIR/sysctl.orig: $(tr '\n' ' ' <"$HOST_STATE_DIR/sysctl.orig")"
  fi
  for d in "${NODE_MOUNTS[@]}"; do _mkdir_recorded "$d"; done
  echo "$LOCAL_DIR" >"$HOST_STATE_DIR/users/$(_bed_id)"
}

# mkdir -p that appends every directory it creates to $HOST_STATE_DIR/created-dirs.
_mkdir_recorded() {
  [[ -d "$1" ]] && return 0
  _mkdir_recorded "$(dirname "$1")"
  mkdir "$1"
  echo "$1" >>"$HOST_STATE_DIR/created-dirs"
}

# Unregisters this bed; the last user restores the sysctls and removes the directories that
# were created (newest first, only while empty), then HOST_STATE_DIR itself.
host_state_release() { [[ -d "$HOST_STATE_DIR" ]] || return 0; _with_host_lock _host_state_release; }
_host_state_release() {
  local f other line k v
  rm -f "$HOST_STATE_DIR/users/$(_bed_id)"
  for f in "$HOST_STATE_DIR"/users/*; do
    [[ -f "$f" ]] || continue
    other="$(<"$f")"
    if compgen -G "$other/clusters/*/node" >/dev/null; then
      log "host state kept: the bed in $other still has nodes"
      return 0
    fi
    rm -f "$f" # that bed is gone without releasing
  done
  if [[ -s "$HOST_STATE_DIR/sysctl.orig" ]]; then
    while IFS='=' read -r k v; do
      [[ -n "$k" && "$(sysctl -n "$k")" != "$v" ]] && sysctl -qw "$k=$v"
    done <"$HOST_STATE_DIR/sysctl.orig"
    log "restored host sysctls: $(tr '\n' ' ' <"$HOST_STATE_DIR/sysctl.orig")"
  fi
  if [[ -s "$HOST_STATE_DIR/created-dirs" ]]; then
    tac "$HOST_STATE_DIR/created-dirs" | while read -r line; do
      rmdir "$line" 2>/dev/null || log "left $line on the host (not empty)"
    done
    log "removed the mount points the bed created: $(tr '\n' ' ' <"$HOST_STATE_DIR/created-dirs")"
  fi
  rm -rf "$HOST_STATE_DIR"
}

# ---------------------------------------------------------------- PKI, configs

# Signs a key + cert pair in C_PKI unless both exist (and the cert's text shows MUST_HAVE):
# NAME SUBJ EXTENSION (from node-openssl.cnf) [MUST_HAVE].
_ensure_cert() {
  if [[ -s "$C_PKI/$1.crt" && -s "$C_PKI/$1.key" ]]; then
    [[ -z "${4:-}" ]] && return 0
    openssl x509 -in "$C_PKI/$1.crt" -noout -text | grep -qF "$4" && return 0
  fi
  _sign "$C_PKI" "$C_PKI/node-openssl.cnf" "$3" "$2" "$1"
}

# Client and serving certs for the node components of cluster NAME (cluster_vars set), added
# to an existing PKI: the kubelet's client cert (system:node:<node>, group system:nodes), its
# serving cert (node IP, 127.0.0.1, <node>), the apiserver's client cert towards kubelets (group
# system:masters: logs, exec, port-forward) and kube-scheduler's client cert.
ensure_node_pki() { # KEY
  node_vars "$1"
  local node="$N_NAME"
  # The cluster's openssl.cnf (gen_pki: [req], [v3_client], …) plus the kubelet's serving profile.
  {
    cat "$C_PKI/openssl.cnf"
    sed -n '/^\[v3_server\]/,/^subjectAltName/p' "$C_PKI/openssl.cnf" |
      sed -e 's/^\[v3_server\]/[v3_kubelet_server]/' \
        -e "s/^subjectAltName = .*/subjectAltName = DNS:$node, DNS:localhost, IP:$N_NODE_IP, IP:127.0.0.1/"
  } >"$C_PKI/node-openssl.cnf"
  _ensure_cert "$N_CERT-client" "/O=system:nodes/CN=system:node:$node" v3_client
  _ensure_cert "$N_CERT-serving" "/CN=$node" v3_kubelet_server "IP Address:$N_NODE_IP,"
  _ensure_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" v3_client
  _ensure_cert scheduler "/CN=system:kube-scheduler" v3_client
}

# Writes stdin to FILE if it differs; succeeds when FILE changed.
install_if_changed() { # FILE
  local tmp="$1.new.$$"
  cat >"$tmp"
  if [[ -f "$1" ]] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$1"
}

# Prepares node NAME (node_vars set): directories, certs, kubeconfigs, containerd, CNI and
# kubelet configs, bridge, cgroup root. Sets NODE_CONFIG_CHANGED to the components whose
# config file changed.
node_prepare() { # NAME PAUSE_IMAGE
  local name="$1" pause="$2" d h
  node_vars "$name"
  mkdir -p "$N_DIR"/{kubelet,log/containers,log/pods,run/containerd,run/netns,cni/lib,cni/net.d,cni/ipam} \
    "$N_DIR"/{containerd/root,containerd/opt,containerd/certs.d,volume-plugins} "$C_DIR/scheduler-serving"
  cat >"$N_DIR/node.env" <<EOF
N_NAME=$N_NAME
N_BRIDGE=$N_BRIDGE
N_CGROUP=$N_CGROUP
N_POD_CIDR=$N_POD_CIDR
EOF
  echo "nameserver 127.0.0.1" >"$N_DIR/resolv.conf"
  ensure_node_pki "$name"
  kubeconfig_for "$N_CERT-client" "$C_NAME" "$C_NAME" | write_file_atomic "$N_DIR/kubelet.kubeconfig"
  kubeconfig_for scheduler "$C_NAME" "$C_NAME" | write_file_atomic "$C_DIR/scheduler.kubeconfig"
  NODE_CONFIG_CHANGED=()

  # restrict_oom_score_adj: the VM withholds CAP_SYS_RESOURCE, so a negative oom_score_adj
  # fails and with it every sandbox ("can't get final child's PID from pipe: EOF").
  # The opt plugin would otherwise create /opt/containerd; config_path points at an empty
  # directory so no registry settings come from /etc.
  install_if_changed "$N_DIR/containerd.toml" <<EOF && NODE_CONFIG_CHANGED+=(containerd)
# Written by hack/lib-node.sh. Runs inside the node's mount namespace, where /run/containerd is
# $N_DIR/run/containerd.
version = 2
root = "$N_DIR/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$N_DIR/containerd/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "$pause"
    restrict_oom_score_adj = true
    disable_apparmor = true
    enable_selinux = false
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$N_DIR/cni/net.d"
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "$N_DIR/containerd/certs.d"
EOF

  # The bridge exists already (node_bridge_up) with the gateway address: the plugin only adds
  # veths. No routes in the pods: they reach the host and each other on the link, nothing else.
  install_if_changed "$N_DIR/cni/net.d/10-fedbed.conflist" <<EOF || true
{
  "cniVersion": "1.0.0",
  "name": "fedbed-$N_KEY",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$N_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$N_POD_CIDR", "rangeStart": "${N_POD_GW%.1}.2"}]],
        "dataDir": "$N_DIR/cni/ipam"
      }
    }
  ]
}
EOF

  install_if_changed "$N_DIR/kubelet.yaml" <<EOF && NODE_CONFIG_CHANGED+=(kubelet)
# Written by hack/lib-node.sh.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $N_NODE_IP
port: $N_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $N_HEALTHZ_PORT
tlsCertFile: $C_PKI/$N_CERT-serving.crt
tlsPrivateKeyFile: $C_PKI/$N_CERT-serving.key
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $C_PKI/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
# The host is cgroup v1 (hybrid); each kubelet gets its own cgroup root instead of /kubepods.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$N_CGROUP
failSwapOn: false
# No KUBE-FIREWALL / KUBE-KUBELET-CANARY / KUBE-IPTABLES-HINT chains on the shared host.
makeIPTablesUtilChains: false
# Imported images are never collected (they cannot be pulled again).
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
volumePluginDir: $N_DIR/volume-plugins
resolvConf: $N_DIR/resolv.conf
clusterDomain: cluster.local
maxPods: 60
serializeImagePulls: false
EOF

  node_bridge_up
  for h in /sys/fs/cgroup/*/; do
    d="$h$N_CGROUP"
    [[ -d "$d" ]] && continue
    mkdir "$d"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" >"$d/cpuset.cpus"
      cat "$h/cpuset.mems" >"$d/cpuset.mems"
    fi
  done
}

# Creates NAME's bridge (node_vars set) with the pod CIDR's first address, unless it exists.
node_bridge_up() {
  if ip link show "$N_BRIDGE" >/dev/null 2>&1; then
    ip -4 addr show dev "$N_BRIDGE" | grep -q " $N_POD_GW/24 " ||
      ip addr add "$N_POD_GW/24" dev "$N_BRIDGE"
  else
    local other
    # Routes inside the CIDR, or covering it (other than the default route).
    other="$({ ip -4 route show root "$N_POD_CIDR"; ip -4 route show match "$N_POD_CIDR" | grep -v '^default'; } 2>/dev/null | sort -u || true)"
    [[ -z "$other" ]] || die "pod CIDR $N_POD_CIDR of $C_NAME is already routed on this machine ($other); another bed with a FED_TESTBED_PORT_BASE of the same thousand? Pick another base."
    ip link add "$N_BRIDGE" type bridge
    ip addr add "$N_POD_GW/24" dev "$N_BRIDGE"
  fi
  ip link set "$N_BRIDGE" up
}

# ---------------------------------------------------------------- command lines

# Sets CMD for a node component of cluster NAME.
node_component_cmd() { # COMPONENT NAME BIN_DIR
  local comp="$1" bin="$3" holder
  node_vars "$2"
  case "$comp" in
    node-ns)
      CMD=("$(command -v unshare)" --mount --propagation private -- /bin/bash "$HACK_DIR/testbed/node-ns.sh"
        "$N_DIR"
        "$N_DIR/kubelet=/var/lib/kubelet" "$N_DIR/log/containers=/var/log/containers"
        "$N_DIR/log/pods=/var/log/pods" "$N_DIR/run/containerd=/run/containerd"
        "$N_DIR/run/netns=/run/netns" "$N_DIR/cni/lib=/var/lib/cni" "$N_DIR/resolv.conf=/etc/resolv.conf")
      ;;
    containerd | kubelet)
      holder="$(running_pid node-ns "$2")" || die "node-ns of $2 is not running"
      CMD=("$(command -v nsenter)" --mount="/proc/$holder/ns/mnt" --)
      if [[ "$comp" == containerd ]]; then
        CMD+=(/usr/bin/containerd --config "$N_DIR/containerd.toml")
      else
        CMD+=("$bin/kubelet" --config="$N_DIR/kubelet.yaml" --kubeconfig="$N_DIR/kubelet.kubeconfig"
          --hostname-override="$N_NAME" --node-ip="$N_NODE_IP")
      fi
      ;;
    kube-scheduler)
      CMD=("$bin/kube-scheduler"
        --kubeconfig="$C_DIR/scheduler.kubeconfig"
        --authentication-kubeconfig="$C_DIR/scheduler.kubeconfig"
        --authorization-kubeconfig="$C_DIR/scheduler.kubeconfig"
        --bind-address=127.0.0.1
        --secure-port="$N_SCHED_PORT"
        --cert-dir="$C_DIR/scheduler-serving"
        --leader-elect=false)
      ;;
    *) die "unknown node component '$comp'" ;;
  esac
}

# Probes a node component once.
node_probe() { # COMPONENT NAME
  node_vars "$2"
  case "$1" in
    node-ns) [[ -s "$N_DIR/ready" && "$(<"$N_DIR/ready")" == "$(running_pid node-ns "$2" 2>/dev/null)" ]] ;;
    containerd) running_pid node-ns "$2" >/dev/null && node_ctr "$2" version >/dev/null 2>&1 ;;
    kubelet) [[ "$(curl -s --max-time 3 "http://127.0.0.1:$N_HEALTHZ_PORT/healthz")" == ok ]] ;;
    kube-scheduler) [[ "$(curl -sk --max-time 3 "https://127.0.0.1:$N_SCHED_PORT/healthz")" == ok ]] ;;
  esac
}

# Prints "True" when node NAME reports Ready (via the admin client cert).
node_ready_status() { # KEY
  node_vars "$1"
  _curl_admin "$C_NAME" "/api/v1/nodes/$N_NAME" |
    jq -r '[.status.conditions[]? | select(.type == "Ready") | .status][0] // "absent"' 2>/dev/null
}

# Imports the images in FED_IMAGE_ARCHIVES (from .local/images.env) that NAME's containerd
# lacks.
node_import_images() { # NAME
  local name="$1" have tar ref
  have="$(node_ctr "$name" images ls -q)"
  for tar in $FED_IMAGE_ARCHIVES; do
    ref="$(tar -xOf "$tar" index.json | jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]')"
    if grep -qxF "$ref" <<<"$have"; then continue; fi
    node_ctr "$name" images import "$tar" >/dev/null
    log "$name: imported $ref"
  done
}

# ---------------------------------------------------------------- teardown

# PIDs of every process in mount namespace NS (a "mnt:[inode]" string).
_pids_in_mntns() { # NS
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$1" ]] && echo "${p#/proc/}"
  done
}

# PIDs of every process in the cgroup tree ROOT (any hierarchy).
_pids_in_cgroup() { # ROOT
  local f
  for f in /sys/fs/cgroup/*/"$1"; do
    [[ -d "$f" ]] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

# SIGKILLs the PIDs that LISTER prints until none is left (deadline STOP_TIMEOUT s).
_kill_until_empty() { # WHAT LISTER ARG
  local what="$1" deadline=$((SECONDS + STOP_TIMEOUT)) pids
  while pids="$("$2" "$3")" && [[ -n "$pids" ]]; do
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    ((SECONDS < deadline)) || { log "WARNING: $what still has processes: $(echo $pids)"; return 1; }
    sleep 0.1
  done
}

# Stops node NAME entirely (kubelet, kube-scheduler, every container, containerd and its
# shims, the holder) by PID, then removes its cgroups and bridge. The mount namespace goes
# with its last process, and with it every mount the node made. Safe when nothing runs.
node_stop() { # NAME
  local name="$1" ns="" me d
  local ndir="$CLUSTERS_DIR/$name/node"
  [[ -d "$ndir" ]] || return 0
  local N_BRIDGE="" N_CGROUP=""
  # shellcheck disable=SC1091
  [[ -f "$ndir/node.env" ]] && source "$ndir/node.env"
  stop_processes "kube-scheduler/$name" "kubelet/$name"
  # Containers first (by the PIDs in the node's cgroups), so the shims see them exit.
  [[ -n "$N_CGROUP" ]] && _kill_until_empty "cgroup $N_CGROUP" _pids_in_cgroup "$N_CGROUP"
  stop_processes "containerd/$name"
  [[ -s "$ndir/mntns" ]] && ns="$(<"$ndir/mntns")"
  me="$(readlink /proc/self/ns/mnt)"
  if [[ -n "$ns" && "$ns" != "$me" ]]; then
    stop_processes "node-ns/$name"
    _kill_until_empty "mount namespace $ns of $name" _pids_in_mntns "$ns"
  fi
  rm -f "$ndir/mntns" "$ndir/ready" "$(pid_file node-ns "$name")"
  if [[ -n "$N_CGROUP" ]]; then
    local deadline=$((SECONDS + STOP_TIMEOUT)) left
    while :; do
      left=0
      for d in /sys/fs/cgroup/*/"$N_CGROUP"; do
        [[ -d "$d" ]] || continue
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [[ -d "$d" ]] && left=1
      done
      ((left == 0)) && break
      ((SECONDS < deadline)) || { log "WARNING: could not remove cgroup $N_CGROUP"; break; }
      sleep 0.1
    done
  fi
  if [[ -n "$N_BRIDGE" ]] && ip link show "$N_BRIDGE" >/dev/null 2>&1; then
    ip link del "$N_BRIDGE"
  fi
  log "node of $name stopped (processes, cgroup /$N_CGROUP, bridge $N_BRIDGE removed)"
}
