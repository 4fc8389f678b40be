#!/usr/bin/env bash
# Builds etcd, the control planes (kube-apiserver, kube-controller-manager,
# kube-scheduler) and the kubelet from Go modules into a per-machine cache keyed by version,
# and prints the cache's bin directory. No kube-proxy: the nodes share the host's network
# namespace, where several kube-proxies would fight over one set of iptables rules, so the bed
# runs none (Services get ClusterIPs that do not route; see hack/lib-node.sh).
# A warm cache makes this a no-op. Needs only Go (already on the machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/versions.env"

cache_root="${FED_TESTBED_CACHE:-$HOME/.cache/kubectl-fed/testbed}"
bin="$cache_root/k8s-v${K8S_VERSION}-etcd-v${ETCD_VERSION}/bin"
wanted=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet)

missing=()
for b in "${wanted[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "$bin"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go is required to build the test bed" >&2; exit 1; }
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
log() { echo "build.sh: $*" >&2; }

minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=v${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor}"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

for b in "${missing[@]}"; do
  start=$SECONDS
  tmp="$bin/.$b.tmp"
  case "$b" in
    etcd)
      (cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp" go.etcd.io/etcd/server/v3) ;;
    *)
      (cd "$here/kube" && go build -trimpath -tags selinux,notest,grpcnotrace \
        -ldflags "-s -w $ldflags" -o "$tmp" "k8s.io/kubernetes/cmd/$b") ;;
  esac
  mv "$tmp" "$bin/$b"
  log "built $b in $((SECONDS - start))s"
done
echo "$bin"
