#!/usr/bin/env bash
# `make fuzz` / `make fuzz-smoke`: the cargo-fuzz (libFuzzer) targets in fuzz/ (docs/FUZZING.md).
#
#   hack/fuzz.sh run [TARGET...]    each target for FED_FUZZ_RUNS executions (10000000); the
#                                   table goes to stdout and .local/fuzz/summary.txt
#   hack/fuzz.sh smoke [TARGET...]  each target for FED_FUZZ_SMOKE_SECONDS (15) seconds; table in
#                                   .local/fuzz/smoke.txt
#
# Both fail when any target crashes (a panic, a failed invariant, a timeout or running out of
# memory); the input is kept under .local/fuzz/artifacts/<target>/ and reproduced with
# `$FUZZ_BIN/<target> <file>`. Corpus: fuzz/seeds/<target>/ (committed; read only here) plus
# .local/fuzz/corpus/<target>/ (what libFuzzer adds; kept between runs, not committed).
#
# Build: `cargo +nightly fuzz build -O -a -s none`: release with debug assertions (overflow
# checks on), no sanitizer (the code under test is safe Rust; the assertions are the
# oracle), in FED_FUZZ_TARGET_DIR ($HOME/.cache/kubectl-fed/fuzz-target) so warm runs and CI
# reuse it. cargo-fuzz itself is installed once into $HOME/.cache/kubectl-fed/tools.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

MODE="${1:-}"
shift || true
RUNS="${FED_FUZZ_RUNS:-10000000}"
SMOKE_SECONDS="${FED_FUZZ_SMOKE_SECONDS:-15}"
TOOLS="${FED_FUZZ_TOOLS:-$HOME/.cache/kubectl-fed/tools}"
TARGET_DIR="${FED_FUZZ_TARGET_DIR:-$HOME/.cache/kubectl-fed/fuzz-target}"
CARGO_FUZZ_VERSION=0.13.2
FUZZ_DIR="$REPO_ROOT/fuzz"
OUT="$LOCAL_DIR/fuzz"
BUILD_FLAGS=(--fuzz-dir "$FUZZ_DIR" -O -a -s none --target-dir "$TARGET_DIR")

say() { echo "[fuzz] $*" >&2; }

case "$MODE" in
  run) limit=(-runs="$RUNS"); summary="$OUT/summary.txt" ;;
  smoke) limit=(-max_total_time="$SMOKE_SECONDS"); summary="$OUT/smoke.txt" ;;
  *) die "usage: hack/fuzz.sh run|smoke [TARGET...]" ;;
esac

rustup run nightly rustc --version >/dev/null 2>&1 ||
  die "the nightly toolchain is required (cargo fuzz needs it): rustup toolchain install nightly"
cargo_fuzz="$(cargo_tool "$TOOLS" cargo-fuzz "$CARGO_FUZZ_VERSION")"
# cargo-fuzz runs as a cargo subcommand; put it first on PATH.
export PATH="$(dirname "$cargo_fuzz"):$PATH"

cd "$REPO_ROOT"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(cargo +nightly fuzz list --fuzz-dir "$FUZZ_DIR")
fi
say "building ${targets[*]}"
cargo +nightly fuzz build "${BUILD_FLAGS[@]}" >&2
FUZZ_BIN="$TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"

# One target: libFuzzer with the growing corpus first (new inputs go there) and the seeds
# second. Prints "target executions exec/s crashes seconds".
fuzz_one() {
  local target="$1" corpus="$OUT/corpus/$1" artifacts="$OUT/artifacts/$1" log="$OUT/logs/$1.log"
  local seeds="$FUZZ_DIR/seeds/$target" dict="$FUZZ_DIR/dict/$target.dict" args=() start rc=0
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  [[ -d "$seeds" ]] || die "no seed corpus $seeds"
  [[ -f "$dict" ]] && args+=(-dict="$dict")
  local before after
  before="$(find "$artifacts" -type f | wc -l)"
  say "$target: ${limit[*]} (log: $log)"
  start="$EPOCHREALTIME"
  "$FUZZ_BIN/$target" "${limit[@]}" "${args[@]}" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  local seconds execs rate
  seconds="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
  after="$(find "$artifacts" -type f | wc -l)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  local crashes=$((after - before))
  ((rc == 0 || crashes > 0)) || crashes=1 # died without leaving an input (should not happen)
  if ((crashes > 0)); then
    say "$target CRASHED (exit $rc); input under $artifacts/, output in $log:"
    grep -m1 -A20 -E "panicked|ERROR: libFuzzer|deadly signal" "$log" >&2 || tail -20 "$log" >&2
  fi
  printf '%s %s %s %s %s\n' "$target" "${execs:-0}" "${rate:-0}" "$crashes" "$seconds"
}

mkdir -p "$OUT"
rows=()
for target in "${targets[@]}"; do
  rows+=("$(fuzz_one "$target")")
done

{
  echo "# hack/fuzz.sh $MODE ($(date -u +%Y-%m-%dT%H:%MZ)); $(nproc) cores: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "# $(rustc +nightly --version); cargo fuzz build -O -a -s none; limit ${limit[*]}"
  printf '%-18s %12s %10s %8s %8s\n' target executions exec/s crashes wall_s
  for row in "${rows[@]}"; do
    read -r t e r c s <<<"$row"
    printf '%-18s %12s %10s %8s %8s\n' "$t" "$e" "$r" "$c" "$s"
  done
} | tee "$summary"

failed=0
for row in "${rows[@]}"; do
  read -r t _ _ c _ <<<"$row"
  ((c == 0)) || { say "$t crashed: see $OUT/artifacts/$t/ and $OUT/logs/$t.log"; failed=1; }
done
((failed == 0)) || exit 1
say "no crashes; table in $summary"
