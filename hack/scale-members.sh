#!/usr/bin/env bash
# Extra member clusters for `make bench-scale`: control planes m01, m02, … beside the bed's
# earth, vulcan and kronos, light enough that 21 of them fit on this machine.
#
#   hack/scale-members.sh up N     start m01..mN (those not running) and join them
#   hack/scale-members.sh down     unjoin and stop every extra member, remove their state
#
# Each extra member is a kube-apiserver and a kube-controller-manager. They share one etcd
# (.local/clusters/scale-etcd, each apiserver under its own --etcd-prefix) and vulcan's PKI
# (its CA, serving certificate for 127.0.0.1, service-account keys), so they cost no key
# generation. Their controller managers run only what a joined member needs: ServiceAccount
# tokens (join reads one) and namespaces (a deleted namespace must go away); no nodes, no
# Deployment controller, so a member Deployment stays a stored object. Ports: apiserver
# PORT_BASE+100+i, controller manager PORT_BASE+150+i, etcd PORT_BASE-4064+40 (client) and +41.
# The state lives under .local/clusters/, so hack/cluster-down.sh stops them too (by PID).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
export KUBECONFIG="$KUBECONFIG_PATH"

SCALE_KUBECONFIG="$LOCAL_DIR/scale.kubeconfig"
ETCD_NAME=scale-etcd
ETCD_PORT=$((PORT_BASE - 4064 + 40))
MAX_EXTRA=40

member_name() { printf 'm%02d' "$1"; }
api_port() { echo $((PORT_BASE + 100 + $1)); }

vulcan_pki="$CLUSTERS_DIR/vulcan/pki"
[[ -s "$vulcan_pki/ca.crt" ]] || die "no bed (hack/cluster-up.sh first): $vulcan_pki/ca.crt is missing"
eval "vulcan_cmd=($(<"$(cmd_file kube-apiserver vulcan)"))"
BIN_DIR="$(dirname "${vulcan_cmd[0]}")"

# A kubeconfig (admin, vulcan's certs) for the extra members NAME=PORT…
kubeconfig_extra() {
  local item
  echo "apiVersion: v1"
  echo "kind: Config"
  echo "clusters:"
  for item in "$@"; do
    echo "- name: ${item%%=*}"
    echo "  cluster: {server: \"https://127.0.0.1:${item##*=}\", certificate-authority-data: $(_b64 "$vulcan_pki/ca.crt")}"
  done
  echo "users:"
  echo "- name: scale-admin"
  echo "  user: {client-certificate-data: $(_b64 "$vulcan_pki/admin.crt"), client-key-data: $(_b64 "$vulcan_pki/admin.key")}"
  echo "- name: scale-kcm"
  echo "  user: {client-certificate-data: $(_b64 "$vulcan_pki/kcm.crt"), client-key-data: $(_b64 "$vulcan_pki/kcm.key")}"
  echo "contexts:"
  for item in "$@"; do
    echo "- name: ${item%%=*}"
    echo "  context: {cluster: ${item%%=*}, user: scale-admin}"
  done
  echo "current-context: ${1%%=*}"
}

write_cmd() { # COMPONENT NAME ARGS…
  local comp="$1" name="$2"
  shift 2
  mkdir -p "$CLUSTERS_DIR/$name/logs"
  CMD=("$@")
  cmd_line | write_file_atomic "$(cmd_file "$comp" "$name")"
}

until_ready() { # WHAT COMMAND…
  local what="$1" deadline=$((SECONDS + READY_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$what not ready after ${READY_TIMEOUT}s"
    sleep 0.3
  done
}

start_etcd() {
  is_running etcd "$ETCD_NAME" && return 0
  write_cmd etcd "$ETCD_NAME" "$BIN_DIR/etcd" --name="$ETCD_NAME" --data-dir="$CLUSTERS_DIR/$ETCD_NAME/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls="http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster="$ETCD_NAME=http://127.0.0.1:$((ETCD_PORT + 1))" --initial-cluster-state=new \
    --initial-cluster-token="$ETCD_NAME" --unsafe-no-fsync=true --quota-backend-bytes=8589934592
  start_process etcd "$ETCD_NAME"
  until_ready "etcd of the extra members" curl -sf "http://127.0.0.1:$ETCD_PORT/health"
}

start_member() { # INDEX
  local name port dir
  name="$(member_name "$1")"; port="$(api_port "$1")"; dir="$CLUSTERS_DIR/$name"
  mkdir -p "$dir"
  if ! is_running kube-apiserver "$name"; then
    write_cmd kube-apiserver "$name" "$BIN_DIR/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
      --etcd-prefix="/$name" --secure-port="$port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
      --endpoint-reconciler-type=none --shutdown-send-retry-after=true \
      --tls-cert-file="$vulcan_pki/apiserver.crt" --tls-private-key-file="$vulcan_pki/apiserver.key" \
      --client-ca-file="$vulcan_pki/ca.crt" --service-cluster-ip-range="10.$((100 + $1)).0.0/24" \
      --authorization-mode=RBAC --service-account-issuer="https://$name.local" \
      --service-account-key-file="$vulcan_pki/sa.pub" --service-account-signing-key-file="$vulcan_pki/sa.key" \
      --requestheader-client-ca-file="$vulcan_pki/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
      --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
      --requestheader-extra-headers-prefix=X-Remote-Extra- \
      --proxy-client-cert-file="$vulcan_pki/front-proxy-client.crt" \
      --proxy-client-key-file="$vulcan_pki/front-proxy-client.key"
    start_process kube-apiserver "$name"
  fi
  kubeconfig_extra "$name=$port" | write_file_atomic "$dir/admin.kubeconfig"
  kubeconfig_extra "$name=$port" | sed 's/user: scale-admin/user: scale-kcm/' | write_file_atomic "$dir/kcm.kubeconfig"
  # The controller manager reads the bootstrap RBAC and its ConfigMaps at start and exits
  # without them: the apiserver must be ready first.
  until_ready "$name's apiserver" kubectl --kubeconfig "$dir/admin.kubeconfig" get --raw /readyz
  if ! is_running kube-controller-manager "$name"; then
    write_cmd kube-controller-manager "$name" "$BIN_DIR/kube-controller-manager" \
      --kubeconfig="$dir/kcm.kubeconfig" --authentication-kubeconfig="$dir/kcm.kubeconfig" \
      --authorization-kubeconfig="$dir/kcm.kubeconfig" --bind-address=127.0.0.1 \
      --secure-port=$((PORT_BASE + 150 + $1)) --cert-dir="$dir/kcm-serving" --flex-volume-plugin-dir="$dir/flexvolume" \
      --service-account-private-key-file="$vulcan_pki/sa.key" --root-ca-file="$vulcan_pki/ca.crt" \
      --use-service-account-credentials=true --controllers=serviceaccount-token,serviceaccount,namespace \
      --leader-elect=false --cluster-name="$name"
    start_process kube-controller-manager "$name"
  fi
}

extra_names() {
  local d
  for d in "$CLUSTERS_DIR"/m[0-9][0-9]/; do [[ -d "$d" ]] && basename "$d"; done
}

up() { # N
  local n="$1" i name items=() fed
  [[ "$n" =~ ^[0-9]+$ ]] && ((n <= MAX_EXTRA)) || die "up N: N must be 0..$MAX_EXTRA (got '$n')"
  ((n > 0)) || return 0
  start_etcd
  for i in $(seq 1 "$n"); do start_member "$i"; items+=("$(member_name "$i")=$(api_port "$i")"); done
  kubeconfig_extra "${items[@]}" | write_file_atomic "$SCALE_KUBECONFIG"
  export KUBECONFIG="$KUBECONFIG_PATH:$SCALE_KUBECONFIG"
  fed="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/${FED_PROFILE:-debug}/kubectl-fed"
  [[ -x "$fed" ]] || die "no $fed: build first (make build, or FED_PROFILE=release)"
  for i in $(seq 1 "$n"); do
    name="$(member_name "$i")"
    until_ready "$name's apiserver" kubectl --context "$name" get --raw /readyz
    until_ready "$name's default ServiceAccount" kubectl --context "$name" -n default get serviceaccount default
    if ! kubectl --context earth -n kube-federation-system get kubefedcluster "$name" >/dev/null 2>&1; then
      "$fed" join "$name" --cluster-context "$name" --host-cluster-context earth >/dev/null
      log "joined $name ($(api_port "$i"))"
    fi
  done
}

down() {
  local name fed items=()
  fed="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/${FED_PROFILE:-debug}/kubectl-fed"
  export KUBECONFIG="$KUBECONFIG_PATH:$SCALE_KUBECONFIG"
  for name in $(extra_names); do
    if [[ -x "$fed" ]] && kubectl --context earth -n kube-federation-system get kubefedcluster "$name" >/dev/null 2>&1; then
      "$fed" unjoin "$name" --force --host-cluster-context earth >/dev/null 2>&1 ||
        log "WARNING: unjoin $name failed; its KubeFedCluster may stay on earth"
    fi
    items+=("kube-controller-manager/$name" "kube-apiserver/$name")
  done
  [[ ${#items[@]} -gt 0 ]] && stop_processes "${items[@]}"
  [[ -d "$CLUSTERS_DIR/$ETCD_NAME" ]] && stop_processes "etcd/$ETCD_NAME"
  for name in $(extra_names) "$ETCD_NAME"; do rm -rf "${CLUSTERS_DIR:?}/$name"; done
  rm -f "$SCALE_KUBECONFIG"
}

take_lock
case "${1:-}" in
  up) up "${2:?up N}" ;;
  down) down ;;
  *) die "usage: $0 up N | down" ;;
esac
