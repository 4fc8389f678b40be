#!/usr/bin/env bash
# The fault suite on the local test bed (tests/tests/faults/): each scenario breaks one part of
# the bed under load (a member's kube-apiserver or etcd, the webhook, the controllers, the
# leader of two replicas, the host's apiserver or etcd, a hung member, a member's token, the
# webhook's serving certificate, a member gone for good, an upgrade of the host component, the
# host restored from an older etcd backup), then checks that every member holds exactly the
# desired objects. Prints one row per scenario — objects, lost, extra, re-created (member copies
# whose uid changed although their cluster stayed placed), time to converge — and fails on any
# loss, extra or re-created object, or on any scenario that did not finish.
#
# FED_FAULT_ROUNDS=N (default 1) runs the whole suite N times over, one table per round: a race
# shows up as a failure in some round rather than as luck in one run. CI runs two rounds.
#
# The host component runs as federation-up installs it: in earth, where scenarios 3–5 delete its
# pods with grace period 0; with FED_HOST_MODE=local they kill the local process by PID instead.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

rounds="${FED_FAULT_ROUNDS:-1}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "FED_FAULT_ROUNDS must be a positive number (got '$rounds')"
reports="$LOCAL_DIR/faults"
mkdir -p "$reports"
rm -f "$reports"/report*.tsv
"$HACK_DIR/federation-up.sh"
(cd "$REPO_ROOT" && cargo test -q -p fed-e2e --test faults --no-run)
scenarios="$(cd "$REPO_ROOT" && cargo test -q -p fed-e2e --test faults -- --ignored --list 2>/dev/null | grep -c ': test$')"

started=$SECONDS
status=0
for ((round = 1; round <= rounds; round++)); do
  report="$reports/report-$round.tsv"
  : >"$report"
  round_started=$SECONDS
  (cd "$REPO_ROOT" && FAULTS_REPORT="$report" cargo test -q -p fed-e2e --test faults -- --ignored --test-threads=1) ||
    status=1
  echo
  echo "fault suite, round $round of $rounds ($((SECONDS - round_started))s):"
  {
    printf 'scenario\tobjects\tlost\textra\tre-created\tconverged in\tresult\tnotes\n'
    sort -n "$report"
  } | column -t -s $'\t'
  rows="$(wc -l <"$report")"
  if ((rows < scenarios)); then
    echo "FAIL: $((scenarios - rows)) of $scenarios scenario(s) did not finish in round $round (see the test output above)"
    status=1
  fi
  if grep -q $'\tFAIL\t' "$report"; then status=1; fi
done
echo "fault suite: $rounds round(s) of $scenarios scenario(s) in $((SECONDS - started))s, $([[ $status == 0 ]] && echo ok || echo FAILED)"
exit "$status"
