# Shared helpers for the local test bed (hack/cluster-up.sh, hack/cluster-down.sh,
# hack/cluster-ctl.sh). Source it; it defines paths, per-cluster settings, PKI and
# kubeconfig generation, and process start/stop/readiness helpers.
#
# Layout (all under .local/ in the repo root):
#   .local/kubeconfig                         admin kubeconfig, contexts earth/vulcan/kronos
#   .local/testbed.lock                       flock taken by every script
#   .local/clusters/<name>/pki/               ca, apiserver, admin, kcm, front-proxy certs; sa.key/sa.pub
#   .local/clusters/<name>/kcm.kubeconfig     kube-controller-manager's kubeconfig
#   .local/clusters/<name>/etcd/              etcd data dir
#   .local/clusters/<name>/logs/<comp>.log    process logs (appended across restarts)
#   .local/clusters/<name>/<comp>.cmd         full command line (shell-quoted) of the process
#   .local/clusters/<name>/<comp>.pid         PID of the running process
#
# Ports: FED_TESTBED_PORT_BASE (default 16443) is earth's apiserver port; every other
# port keeps its distance from it. Defaults, for cluster index i = 0 (earth), 1 (vulcan),
# 2 (kronos):
#   kube-apiserver            16443 + i
#   kube-controller-manager   16457 + i   (secure serving, /healthz)
#   etcd client               12379 + 10*i, peer = client + 1
#   kube-scheduler            16463 + i   kubelet 16466 + i, its /healthz 16469 + i (nodes:
#                                         hack/lib-node.sh, which also describes their layout)

# shellcheck shell=bash
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
LOCAL_DIR="$REPO_ROOT/.local"
CLUSTERS_DIR="$LOCAL_DIR/clusters"
KUBECONFIG_PATH="$LOCAL_DIR/kubeconfig"
CLUSTERS=(earth vulcan kronos)
COMPONENTS=(etcd kube-apiserver kube-controller-manager)
PORT_BASE="${FED_TESTBED_PORT_BASE:-16443}"
[[ "$PORT_BASE" =~ ^[0-9]+$ ]] && ((PORT_BASE >= 5200 && PORT_BASE <= 65500)) ||
  { echo "[testbed] ERROR: FED_TESTBED_PORT_BASE must be a port in 5200..65500 (got '$PORT_BASE')" >&2; exit 1; }
# Ports inside the kernel's ephemeral range can be taken at any moment by an outgoing
# connection's source port (seen: another bed's apiserver→etcd connection holding this bed's
# etcd peer port). Warn, since a base whose ports all stay below the range (<= 32719 with
# the default range 32768-60999) avoids it.
if read -r _eph_lo _eph_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
  ((PORT_BASE - 4064 <= _eph_hi && PORT_BASE + 48 >= _eph_lo)); then
  echo "[testbed] note: ports $((PORT_BASE - 4064))..$((PORT_BASE + 48)) overlap the ephemeral range $_eph_lo-$_eph_hi; a bind may fail with 'address already in use' (pick FED_TESTBED_PORT_BASE <= $((_eph_lo - 49)))" >&2
fi
READY_TIMEOUT="${FED_TESTBED_READY_TIMEOUT:-90}"
STOP_TIMEOUT="${FED_TESTBED_STOP_TIMEOUT:-20}"

log() { echo "[testbed] $*" >&2; }
die() { echo "[testbed] ERROR: $*" >&2; exit 1; }

# Serialises all test-bed scripts (fd 9). Started processes close fd 9.
take_lock() {
  mkdir -p "$LOCAL_DIR"
  exec 9>"$LOCAL_DIR/testbed.lock"
  if ! flock -n 9; then
    log "waiting for another test-bed script to finish (lock $LOCAL_DIR/testbed.lock)"
    flock 9
  fi
}

cluster_index() {
  local i
  for i in "${!CLUSTERS[@]}"; do
    [[ "${CLUSTERS[$i]}" == "$1" ]] && { echo "$i"; return 0; }
  done
  die "unknown cluster '$1' (known: ${CLUSTERS[*]})"
}

# Sets C_NAME C_DIR C_PKI C_API_PORT C_KCM_PORT C_ETCD_PORT C_ETCD_PEER_PORT C_SVC_CIDR C_SVC_IP.
cluster_vars() {
  local i
  i="$(cluster_index "$1")" || exit 1
  C_NAME="$1"
  C_DIR="$CLUSTERS_DIR/$1"
  C_PKI="$C_DIR/pki"
  C_API_PORT=$((PORT_BASE + i))
  C_KCM_PORT=$((PORT_BASE + 14 + i))
  C_ETCD_PORT=$((PORT_BASE - 4064 + 10 * i))
  C_ETCD_PEER_PORT=$((C_ETCD_PORT + 1))
  C_SVC_CIDR="10.$((96 + i)).0.0/24"
  C_SVC_IP="10.$((96 + i)).0.1"
}

check_component() {
  local c
  for c in "${COMPONENTS[@]}" "${NODE_COMPONENTS[@]}"; do [[ "$c" == "$1" ]] && return 0; done
  die "unknown component '$1' (known: ${COMPONENTS[*]} ${NODE_COMPONENTS[*]})"
}

# ---------------------------------------------------------------- PKI

pki_files=(ca.crt ca.key apiserver.crt apiserver.key admin.crt admin.key kcm.crt kcm.key sa.key sa.pub
  front-proxy-ca.crt front-proxy-ca.key front-proxy-client.crt front-proxy-client.key)

pki_complete() { # NAME
  local f
  for f in "${pki_files[@]}"; do [[ -s "$CLUSTERS_DIR/$1/pki/$f" ]] || return 1; done
}

_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

_sign() { # PKI CNF EXT SUBJ NAME [CA]: key + cert NAME.{key,crt} signed by CA (default: ca)
  local pki="$1" cnf="$2" ext="$3" subj="$4" name="$5" ca="${6:-ca}"
  _ec_key "$pki/$name.key"
  openssl req -new -config "$cnf" -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 \
    -extfile "$cnf" -extensions "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr"
}

# Generates the cluster's PKI with the openssl CLI: CA, apiserver serving cert, admin and
# kube-controller-manager client certs, front-proxy (requestheader) CA and client cert (all
# EC P-256), service-account key pair (RSA-2048).
gen_pki() { # NAME (cluster_vars must be set for NAME)
  local pki="$C_PKI" cnf
  rm -rf "$pki"; mkdir -p "$pki"; chmod 700 "$pki"
  cnf="$pki/openssl.cnf"
  cat >"$cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:127.0.0.1, IP:$C_SVC_IP
[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  _ec_key "$pki/ca.key"
  openssl req -x509 -new -config "$cnf" -extensions v3_ca -key "$pki/ca.key" \
    -subj "/CN=$C_NAME-ca" -days 3650 -sha256 -out "$pki/ca.crt"
  _sign "$pki" "$cnf" v3_server "/CN=kube-apiserver" apiserver
  _sign "$pki" "$cnf" v3_client "/O=system:masters/CN=admin" admin
  _sign "$pki" "$cnf" v3_client "/CN=system:kube-controller-manager" kcm
  _ec_key "$pki/front-proxy-ca.key"
  openssl req -x509 -new -config "$cnf" -extensions v3_ca -key "$pki/front-proxy-ca.key" \
    -subj "/CN=$C_NAME-front-proxy-ca" -days 3650 -sha256 -out "$pki/front-proxy-ca.crt"
  _sign "$pki" "$cnf" v3_client "/CN=front-proxy-client" front-proxy-client front-proxy-ca
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
}

# ---------------------------------------------------------------- kubeconfig

_b64() { base64 -w0 <"$1"; }

# Prints a kubeconfig for the given clusters (embedded certs); USER is admin or kcm.
kubeconfig_for() { # USER CURRENT NAME...
  local user="$1" current="$2" n
  shift 2
  echo "apiVersion: v1"
  echo "kind: Config"
  echo "clusters:"
  for n in "$@"; do
    cluster_vars "$n"
    echo "- name: $n"
    echo "  cluster:"
    echo "    server: https://127.0.0.1:$C_API_PORT"
    echo "    certificate-authority-data: $(_b64 "$C_PKI/ca.crt")"
  done
  echo "users:"
  for n in "$@"; do
    cluster_vars "$n"
    echo "- name: $n"
    echo "  user:"
    echo "    client-certificate-data: $(_b64 "$C_PKI/$user.crt")"
    echo "    client-key-data: $(_b64 "$C_PKI/$user.key")"
  done
  echo "contexts:"
  for n in "$@"; do
    echo "- name: $n"
    echo "  context:"
    echo "    cluster: $n"
    echo "    user: $n"
  done
  echo "current-context: $current"
  echo "preferences: {}"
}

write_file_atomic() { # PATH (content on stdin)
  local tmp="$1.tmp.$$"
  cat >"$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$1"
}

# ---------------------------------------------------------------- command lines

# kube-apiserver: --endpoint-reconciler-type=none because in 1.37 the default (lease) reconciler
# refuses a loopback advertise address ("cannot use public IP 127.0.0.1 with endpoint
# reconciler ... may not be in the loopback range"); the default/kubernetes Service is still
# created, it just gets no Endpoints (nothing in-cluster would use them: no kubelet, no pods).
# --shutdown-send-retry-after=true: on SIGTERM drain in-flight requests, then give the HTTP
# server 2s to close; otherwise open watches (kube-controller-manager's) keep a graceful stop
# hanging for --request-timeout (60s).
# The --requestheader-*/--proxy-client-* (front-proxy) flags make the aggregation layer work
# and give kube-controller-manager's delegated authentication the CA bundle it looks up
# (without them it logs "missing content for CA bundle ... requestheader-client-ca-file").
# --audit-*: every request of a federation-namespace service account, one line each
# (hack/testbed/audit-policy.yaml), read by tests/tests/audit.rs.
# Nodes (hack/lib-node.sh): --enable-aggregator-routing makes the apiserver dial a Service's
# endpoint IPs itself (webhooks, aggregated APIs), since without kube-proxy ClusterIPs do not
# route; --kubelet-client-* (group system:masters) and the kubelet serving certs signed by the
# cluster CA make logs/exec/port-forward work with verification; kubelets register their
# hostname <cluster>-node, which does not resolve, hence InternalIP (the node's bridge address).
# kube-controller-manager: --flex-volume-plugin-dir keeps it from creating
# /usr/libexec/kubernetes/kubelet-plugins/volume/exec on the machine.

# Sets the global array CMD to the full command line of COMPONENT in cluster NAME.
component_cmd() { # COMPONENT NAME BIN_DIR
  local comp="$1" bin="$3"
  cluster_vars "$2"
  case "$comp" in
    etcd)
      CMD=("$bin/etcd"
        --name="$C_NAME"
        --data-dir="$C_DIR/etcd"
        --listen-client-urls="http://127.0.0.1:$C_ETCD_PORT"
        --advertise-client-urls="http://127.0.0.1:$C_ETCD_PORT"
        --listen-peer-urls="http://127.0.0.1:$C_ETCD_PEER_PORT"
        --initial-advertise-peer-urls="http://127.0.0.1:$C_ETCD_PEER_PORT"
        --initial-cluster="$C_NAME=http://127.0.0.1:$C_ETCD_PEER_PORT"
        --initial-cluster-state=new
        --initial-cluster-token="$C_NAME"
        --unsafe-no-fsync=true)
      ;;
    kube-apiserver)
      CMD=("$bin/kube-apiserver"
        --etcd-servers="http://127.0.0.1:$C_ETCD_PORT"
        --secure-port="$C_API_PORT"
        --bind-address=127.0.0.1
        --advertise-address=127.0.0.1
        --endpoint-reconciler-type=none
        --shutdown-send-retry-after=true
        --tls-cert-file="$C_PKI/apiserver.crt"
        --tls-private-key-file="$C_PKI/apiserver.key"
        --client-ca-file="$C_PKI/ca.crt"
        --service-cluster-ip-range="$C_SVC_CIDR"
        --allow-privileged=true
        --authorization-mode=Node,RBAC
        --service-account-issuer="https://$C_NAME.local"
        --service-account-key-file="$C_PKI/sa.pub"
        --service-account-signing-key-file="$C_PKI/sa.key"
        --requestheader-client-ca-file="$C_PKI/front-proxy-ca.crt"
        --requestheader-allowed-names=front-proxy-client
        --requestheader-username-headers=X-Remote-User
        --requestheader-group-headers=X-Remote-Group
        --requestheader-extra-headers-prefix=X-Remote-Extra-
        --proxy-client-cert-file="$C_PKI/front-proxy-client.crt"
        --proxy-client-key-file="$C_PKI/front-proxy-client.key"
        --enable-admission-plugins=NodeRestriction
        --enable-aggregator-routing=true
        --kubelet-client-certificate="$C_PKI/apiserver-kubelet-client.crt"
        --kubelet-client-key="$C_PKI/apiserver-kubelet-client.key"
        --kubelet-certificate-authority="$C_PKI/ca.crt"
        --kubelet-preferred-address-types=InternalIP
        --audit-policy-file="$HACK_DIR/testbed/audit-policy.yaml"
        --audit-log-path="$C_DIR/logs/audit.log")
      ;;
    kube-controller-manager)
      CMD=("$bin/kube-controller-manager"
        --kubeconfig="$C_DIR/kcm.kubeconfig"
        --authentication-kubeconfig="$C_DIR/kcm.kubeconfig"
        --authorization-kubeconfig="$C_DIR/kcm.kubeconfig"
        --bind-address=127.0.0.1
        --secure-port="$C_KCM_PORT"
        --cert-dir="$C_DIR/kcm-serving"
        --flex-volume-plugin-dir="$C_DIR/flexvolume"
        --service-account-private-key-file="$C_PKI/sa.key"
        --root-ca-file="$C_PKI/ca.crt"
        --use-service-account-credentials=true
        --controllers='*'
        --leader-elect=false
        --cluster-name="$C_NAME"
        --service-cluster-ip-range="$C_SVC_CIDR")
      ;;
    *) die "unknown component '$comp'" ;;
  esac
}

cmd_file() { echo "$CLUSTERS_DIR/$2/$1.cmd"; }  # COMPONENT NAME
pid_file() { echo "$CLUSTERS_DIR/$2/$1.pid"; }  # COMPONENT NAME
log_file() { echo "$CLUSTERS_DIR/$2/logs/$1.log"; }  # COMPONENT NAME

# Prints the shell-quoted form of CMD (one line), as stored in .cmd files.
cmd_line() { printf '%q ' "${CMD[@]}"; echo; }

# Loads CMD from the component's .cmd file.
load_cmd() { # COMPONENT NAME
  local f
  f="$(cmd_file "$1" "$2")"
  [[ -s "$f" ]] || die "no command recorded for $1 of $2 ($f); run hack/cluster-up.sh"
  eval "CMD=($(<"$f"))"
}

# ---------------------------------------------------------------- processes

# Prints the recorded PID of COMPONENT/NAME if that process is alive and still runs the
# recorded binary (guards against PID reuse and zombies); fails otherwise.
running_pid() { # COMPONENT NAME
  local pf pid exe want
  pf="$(pid_file "$1" "$2")"
  [[ -s "$pf" ]] || return 1
  pid="$(<"$pf")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  exe="$(head -z -n1 "/proc/$pid/cmdline" 2>/dev/null | tr -d '\0')" || return 1
  local -a words=()
  eval "words=($(head -n1 "$(cmd_file "$1" "$2")" 2>/dev/null))"
  want="${words[0]:-}"
  # Node components run through unshare/nsenter, which exec the real command after "--".
  case "${want##*/}" in
    unshare | nsenter)
      local w after=0
      want=""
      for w in "${words[@]}"; do
        ((after)) && { want="$w"; break; }
        [[ "$w" == -- ]] && after=1
      done
      ;;
  esac
  [[ -n "$exe" && "$exe" == "$want" ]] || return 1
  echo "$pid"
}

is_running() { running_pid "$1" "$2" >/dev/null; }

# Starts COMPONENT/NAME from its .cmd file, detached (own session, stdin /dev/null, output
# appended to its log, lock fd closed); records the PID of the process itself.
start_process() { # COMPONENT NAME
  local comp="$1" name="$2" pf lf i
  load_cmd "$comp" "$name"
  pf="$(pid_file "$comp" "$name")"
  lf="$(log_file "$comp" "$name")"
  mkdir -p "$(dirname "$lf")"
  rm -f "$pf"
  echo "==== $(date -u +%FT%TZ) starting: $(<"$(cmd_file "$comp" "$name")")" >>"$lf"
  setsid bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec nohup "$@"' \
    "$pf" "${CMD[@]}" </dev/null >>"$lf" 2>&1 9>&- &
  for i in $(seq 1 100); do
    [[ -s "$pf" ]] && break
    sleep 0.05
  done
  [[ -s "$pf" ]] || die "could not start $comp of $name (no PID file); see $lf"
  # The recorded PID runs bash, then nohup, then execs the binary; wait for the last.
  for i in $(seq 1 100); do
    is_running "$comp" "$name" && break
    kill -0 "$(<"$pf")" 2>/dev/null || break
    sleep 0.05
  done
  log "started $comp of $name (pid $(<"$pf"))"
}

# Stops the given processes ("COMPONENT/NAME" words) by their recorded PIDs: SIGTERM (or
# the signal in STOP_SIGNAL), wait up to STOP_TIMEOUT s, then SIGKILL. Never by name.
stop_processes() { # COMPONENT/NAME...
  local sig="${STOP_SIGNAL:-TERM}" item pid
  for item in "$@"; do
    if pid="$(running_pid "${item%%/*}" "${item##*/}")"; then
      kill "-$sig" "$pid" 2>/dev/null || true
      log "sent SIG$sig to ${item%%/*} of ${item##*/} (pid $pid)"
    fi
  done
  if ! _wait_all_stopped "$STOP_TIMEOUT" "$@"; then
    for item in "$@"; do
      if pid="$(running_pid "${item%%/*}" "${item##*/}")"; then
        log "${item%%/*} of ${item##*/} (pid $pid) still running after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    done
    _wait_all_stopped 10 "$@" || die "could not stop some of: $*"
  fi
  for item in "$@"; do rm -f "$(pid_file "${item%%/*}" "${item##*/}")"; done
}

_wait_all_stopped() { # TIMEOUT COMPONENT/NAME...
  local deadline=$((SECONDS + $1)) item alive
  shift
  while :; do
    alive=0
    for item in "$@"; do is_running "${item%%/*}" "${item##*/}" && alive=1; done
    ((alive == 0)) && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# ---------------------------------------------------------------- readiness

_curl_admin() { # NAME PATH  (cluster_vars must be set for NAME)
  curl -s --max-time 5 --cacert "$C_PKI/ca.crt" --cert "$C_PKI/admin.crt" --key "$C_PKI/admin.key" \
    "https://127.0.0.1:$C_API_PORT$2"
}

_fail_with_log() { # COMPONENT NAME MESSAGE
  local lf
  lf="$(log_file "$1" "$2")"
  echo "[testbed] ERROR: $3" >&2
  echo "[testbed] ---- last 30 lines of $lf ----" >&2
  tail -n 30 "$lf" >&2 2>/dev/null || true
  exit 1
}

# Probes a component once: succeeds when it reports healthy.
probe() { # COMPONENT NAME (a node component: a node key, hack/lib-node.sh)
  case "$1" in etcd | kube-apiserver | kube-controller-manager) cluster_vars "$2" ;; esac
  case "$1" in
    etcd) curl -s --max-time 3 "http://127.0.0.1:$C_ETCD_PORT/health" | grep -q '"health":"true"' ;;
    kube-apiserver) [[ "$(_curl_admin "$2" /readyz)" == ok ]] ;;
    kube-controller-manager) [[ "$(curl -sk --max-time 3 "https://127.0.0.1:$C_KCM_PORT/healthz")" == ok ]] ;;
    *) node_probe "$1" "$2" ;;
  esac
}

# Waits until COMPONENT/NAME is healthy (etcd /health, apiserver /readyz, kcm /healthz,
# node components: node_probe);
# fails with the log tail if the process dies or the deadline (READY_TIMEOUT s) passes.
wait_ready() { # COMPONENT NAME
  local deadline=$((SECONDS + READY_TIMEOUT))
  until probe "$1" "$2"; do
    is_running "$1" "$2" || _fail_with_log "$1" "$2" "$1 of $2 exited while starting"
    ((SECONDS < deadline)) || _fail_with_log "$1" "$2" "$1 of $2 not healthy after ${READY_TIMEOUT}s"
    sleep 0.25
  done
}

# Waits for ServiceAccount default/default (created by kube-controller-manager).
wait_default_sa() { # NAME
  local deadline=$((SECONDS + READY_TIMEOUT))
  cluster_vars "$1"
  until _curl_admin "$1" /api/v1/namespaces/default/serviceaccounts/default | grep -q '"kind": *"ServiceAccount"'; do
    is_running kube-controller-manager "$1" ||
      _fail_with_log kube-controller-manager "$1" "kube-controller-manager of $1 is not running"
    ((SECONDS < deadline)) ||
      _fail_with_log kube-controller-manager "$1" "ServiceAccount default/default did not appear on $1 after ${READY_TIMEOUT}s"
    sleep 0.25
  done
}

# Installs a crate's binaries into the tools cache TOOLS (once; its build directory is kept
# there too) and prints the path of BIN: cargo_tool TOOLS CRATE VERSION [BIN].
cargo_tool() {
  local tools="$1" crate="$2" version="$3" bin
  bin="$1/bin/${4:-$2}"
  if [[ ! -x "$bin" ]]; then
    echo "[tools] installing $crate $version into $tools (once; takes a few minutes)" >&2
    CARGO_TARGET_DIR="$tools/build" cargo install "$crate" --version "$version" --locked --root "$tools" >&2
  fi
  echo "$bin"
}

source "$HACK_DIR/lib-node.sh"
