#!/usr/bin/env bash
# The fault suite on the local test bed (tests/tests/faults/): each scenario breaks one part of
# the bed under load (a member's kube-apiserver or etcd, the webhook, the controllers, the
# leader of two replicas), then checks that every member holds exactly the desired objects.
# Prints one row per scenario — objects, lost, extra, time to converge — and fails on any loss
# or extra object, or on any scenario that did not finish.
#
# The scenarios kill fed-webhook processes by PID and start a second replica as a process, so
# they run against the local form of the host component (FED_HOST_MODE=local). The in-cluster
# form's failure of a webhook pod under load is an e2e test of its own
# (tests/tests/disruptive.rs, deleting_the_leading_webhook_pod_under_creates_admits_nothing_unchecked).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"
export FED_HOST_MODE=local

report="$LOCAL_DIR/faults/report.tsv"
mkdir -p "$(dirname "$report")"
: >"$report"
"$HACK_DIR/federation-up.sh"
(cd "$REPO_ROOT" && cargo test -q -p fed-e2e --test faults --no-run)

started=$SECONDS
status=0
(cd "$REPO_ROOT" && FAULTS_REPORT="$report" cargo test -q -p fed-e2e --test faults -- --ignored --test-threads=1) ||
  status=$?
wall=$((SECONDS - started))

echo
{
  printf 'scenario\tobjects\tlost\textra\tconverged in\tresult\tnotes\n'
  cat "$report"
} | column -t -s $'\t'
rows="$(wc -l <"$report")"
if ((rows < 5)); then
  echo "FAIL: $((5 - rows)) scenario(s) did not finish (see the test output above)"
  status=1
fi
if grep -q $'\tFAIL\t' "$report"; then status=1; fi
echo "fault suite: $rows scenario(s) in ${wall}s, $([[ $status == 0 ]] && echo ok || echo FAILED)"
exit "$status"
