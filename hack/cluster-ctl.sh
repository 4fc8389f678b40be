#!/usr/bin/env bash
# Fault injection for the local test bed (started by hack/cluster-up.sh).
#
#   hack/cluster-ctl.sh stop    COMPONENT CLUSTER   SIGTERM (SIGKILL after the deadline), wait for exit
#   hack/cluster-ctl.sh kill    COMPONENT CLUSTER   SIGKILL, wait for exit
#   hack/cluster-ctl.sh start   COMPONENT CLUSTER   re-exec the recorded command line (same flags,
#                                                   same state) and wait until healthy; starting a
#                                                   kube-apiserver also restarts that cluster's running
#                                                   kube-controller-manager, whose informers would
#                                                   otherwise sit in client-go's retry backoff for
#                                                   up to a minute after the outage
#   hack/cluster-ctl.sh restart COMPONENT CLUSTER   stop, then start
#   hack/cluster-ctl.sh status  COMPONENT CLUSTER   print "running PID healthy|unhealthy" or "stopped"
#   hack/cluster-ctl.sh pause   COMPONENT CLUSTER   SIGSTOP: the process stays, its sockets stay open
#                                                   (the kernel still accepts connections) and
#                                                   nothing answers (a hung server)
#   hack/cluster-ctl.sh resume  COMPONENT CLUSTER   SIGCONT, then wait until healthy
#   hack/cluster-ctl.sh backup  etcd CLUSTER        copy etcd's data directory while etcd is
#                                                   stopped (a few seconds down: a consistent copy)
#                                                   to .local/clusters/<name>/etcd-backup
#   hack/cluster-ctl.sh restore etcd CLUSTER        the cluster back to that backup, as a restore is
#                                                   done: its kube-scheduler, kube-controller-manager,
#                                                   kube-apiserver and etcd stopped, etcd's data
#                                                   replaced by the backup, all started again, and
#                                                   the cluster's kubelets restarted. Every
#                                                   other client of that apiserver holds
#                                                   resourceVersions from after the backup: restart
#                                                   the ones that do not re-list by themselves
#
# COMPONENT: etcd | kube-apiserver | kube-controller-manager, or on a cluster with a node
# (hack/lib-node.sh) kubelet | containerd | kube-scheduler | node-ns (the node's mount-namespace
# holder: a restarted one is a new namespace, so run hack/cluster-up.sh instead);
# CLUSTER: earth | vulcan | kronos.
# Health: etcd /health, kube-apiserver /readyz, kube-controller-manager and kube-scheduler
# /healthz, kubelet /healthz, containerd `ctr version`.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -eq 3 ]] || usage
action="$1" comp="$2" name="$3"
check_component "$comp"
cluster_index "$name" >/dev/null
if [[ ! -s "$(cmd_file "$comp" "$name")" ]]; then
  [[ "$action" == status ]] && { echo "stopped"; exit 0; }
  die "$comp of $name was never started; run hack/cluster-up.sh"
fi

do_start() {
  if pid="$(running_pid "$comp" "$name")"; then
    log "$comp of $name already running (pid $pid)"
  else
    start_process "$comp" "$name"
  fi
  wait_ready "$comp" "$name"
  log "$comp of $name healthy"
  if [[ "$comp" == kube-apiserver ]] && running_pid kube-controller-manager "$name" >/dev/null; then
    stop_processes "kube-controller-manager/$name"
    start_process kube-controller-manager "$name"
    wait_ready kube-controller-manager "$name"
    log "kube-controller-manager of $name restarted (fresh informers)"
  fi
}

# The backup of NAME's etcd data directory.
backup_dir() { echo "$CLUSTERS_DIR/$1/etcd-backup"; }

do_backup() {
  [[ "$comp" == etcd ]] || die "backup is of etcd only"
  cluster_vars "$name"
  stop_processes "etcd/$name"
  rm -rf "$(backup_dir "$name").tmp"
  cp -a "$C_DIR/etcd" "$(backup_dir "$name").tmp"
  rm -rf "$(backup_dir "$name")"
  mv "$(backup_dir "$name").tmp" "$(backup_dir "$name")"
  start_process etcd "$name"
  wait_ready etcd "$name"
  log "etcd of $name backed up to $(backup_dir "$name") ($(du -sh "$(backup_dir "$name")" | cut -f1))"
}

do_restore() {
  [[ "$comp" == etcd ]] || die "restore is of etcd only"
  cluster_vars "$name"
  [[ -d "$(backup_dir "$name")" ]] || die "no backup of $name's etcd; run: hack/cluster-ctl.sh backup etcd $name"
  local order=(etcd kube-apiserver kube-controller-manager kube-scheduler) c started=()
  for c in "${order[@]}"; do
    if [[ -s "$(cmd_file "$c" "$name")" ]] && is_running "$c" "$name"; then started+=("$c"); fi
  done
  for ((i = ${#order[@]} - 1; i >= 0; i--)); do
    if is_running "${order[$i]}" "$name"; then stop_processes "${order[$i]}/$name"; fi
  done
  rm -rf "$C_DIR/etcd"
  cp -a "$(backup_dir "$name")" "$C_DIR/etcd"
  for c in "${started[@]}"; do
    start_process "$c" "$name"
    wait_ready "$c" "$name"
  done
  # The kubelets watch with resourceVersions from after the backup too; one left running was
  # seen never to finish a pod's termination. Kubernetes' restore procedure restarts them.
  local key
  for key in "$name" "$name-2"; do
    if [[ -s "$(cmd_file kubelet "$key")" ]] && is_running kubelet "$key"; then
      stop_processes "kubelet/$key"
      start_process kubelet "$key"
      wait_ready kubelet "$key"
      started+=("kubelet/$key")
    fi
  done
  log "$name restored from $(backup_dir "$name"); started again: ${started[*]}"
}

case "$action" in
  backup) take_lock; do_backup ;;
  restore) take_lock; do_restore ;;
  stop) take_lock; stop_processes "$comp/$name" ;;
  kill) take_lock; STOP_SIGNAL=KILL stop_processes "$comp/$name" ;;
  start) take_lock; do_start ;;
  restart) take_lock; stop_processes "$comp/$name"; do_start ;;
  pause | resume)
    pid="$(running_pid "$comp" "$name")" || die "$comp of $name is not running"
    if [[ "$action" == pause ]]; then
      kill -STOP "$pid"
      log "$comp of $name (pid $pid) stopped with SIGSTOP"
    else
      kill -CONT "$pid"
      wait_ready "$comp" "$name"
      log "$comp of $name (pid $pid) resumed and healthy"
    fi
    ;;
  status)
    if pid="$(running_pid "$comp" "$name")"; then
      if probe "$comp" "$name"; then echo "running $pid healthy"; else echo "running $pid unhealthy"; fi
    else
      echo "stopped"
    fi
    ;;
  *) usage ;;
esac
