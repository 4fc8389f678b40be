#!/usr/bin/env bash
# The fault suite on the local test bed (tests/tests/faults/): each scenario breaks one part of
# the bed under load (a member's kube-apiserver or etcd, the webhook, the controllers, the
# leader of two replicas, the host's apiserver or etcd, a hung member, a member's token, the
# webhook's serving certificate, a member gone for good), then checks that every member holds
# exactly the desired objects. Prints one row per scenario — objects, lost, extra, re-created
# (member copies whose uid changed although their cluster stayed placed), time to converge —
# and fails on any loss, extra or re-created object, or on any scenario that did not finish.
#
# The host component runs as federation-up installs it: in earth, where scenarios 3–5 delete its
# pods with grace period 0; with FED_HOST_MODE=local they kill the local process by PID instead.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

report="$LOCAL_DIR/faults/report.tsv"
mkdir -p "$(dirname "$report")"
: >"$report"
"$HACK_DIR/federation-up.sh"
(cd "$REPO_ROOT" && cargo test -q -p fed-e2e --test faults --no-run)
scenarios="$(cd "$REPO_ROOT" && cargo test -q -p fed-e2e --test faults -- --ignored --list 2>/dev/null | grep -c ': test$')"

started=$SECONDS
status=0
(cd "$REPO_ROOT" && FAULTS_REPORT="$report" cargo test -q -p fed-e2e --test faults -- --ignored --test-threads=1) ||
  status=$?
wall=$((SECONDS - started))

echo
{
  printf 'scenario\tobjects\tlost\textra\tre-created\tconverged in\tresult\tnotes\n'
  sort -n "$report"
} | column -t -s $'\t'
rows="$(wc -l <"$report")"
if ((rows < scenarios)); then
  echo "FAIL: $((scenarios - rows)) of $scenarios scenario(s) did not finish (see the test output above)"
  status=1
fi
if grep -q $'\tFAIL\t' "$report"; then status=1; fi
echo "fault suite: $rows scenario(s) in ${wall}s, $([[ $status == 0 ]] && echo ok || echo FAILED)"
exit "$status"
