#!/usr/bin/env bash
# The demo: brings the local test bed up and shows the three ready clusters.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
"$HACK_DIR/cluster-up.sh"
export KUBECONFIG="$KUBECONFIG_PATH"
for c in "${CLUSTERS[@]}"; do
  echo "\$ kubectl --context $c version   # $c"
  kubectl --context "$c" version 2>/dev/null | sed 's/^/  /'
  echo "\$ kubectl --context $c get --raw /readyz"
  echo "  $(kubectl --context "$c" get --raw /readyz)"
done
cat <<MSG

The test bed is running. Use it with:
  export KUBECONFIG=$KUBECONFIG_PATH   # contexts: earth (host), vulcan, kronos
Stop it with: make cluster-down
MSG
