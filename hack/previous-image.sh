#!/usr/bin/env bash
# Builds the fed-webhook image of an earlier commit, imports it into every node of the bed and
# prints its ref: the image the fault suite's upgrade scenario installs first, then upgrades
# from with `kubectl fed install --image <current>`.
#
#   hack/previous-image.sh            the commit before HEAD
#   FED_UPGRADE_FROM=REV hack/previous-image.sh
#
# The commit's tree is exported (`git archive`, the clone is not touched) to
# ~/.cache/kubectl-fed/previous/src and built there with a target directory of its own
# (~/.cache/kubectl-fed/previous/target, kept between runs, so only the workspace's own crates
# rebuild); the binary is kept per commit, so a second run for the same commit builds nothing.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

rev="$(git -C "$REPO_ROOT" rev-parse --verify "${FED_UPGRADE_FROM:-HEAD~1}^{commit}")" ||
  die "no commit ${FED_UPGRADE_FROM:-HEAD~1} to upgrade from"
cache="$HOME/.cache/kubectl-fed/previous"
bin="$cache/bin/fed-webhook-${rev:0:12}"
# One build at a time: another bed's fault suite on this machine shares the cache.
mkdir -p "$cache"
exec 8>"$cache/.lock"
flock 8
if [[ ! -x "$bin" ]]; then
  src="$cache/src"
  rm -rf "$src"
  mkdir -p "$src" "$cache/bin"
  # -m: the files get the time of extraction. With the commit's times, cargo would take the
  # previous build's artifacts (built later than those times) for fresh and rebuild nothing.
  git -C "$REPO_ROOT" archive "$rev" | tar -x -m -C "$src"
  log "building fed-webhook of ${rev:0:12} in $src"
  start=$SECONDS
  (
    cd "$src"
    for var in $(compgen -e); do
      case "$var" in CARGO_PKG_* | CARGO_MANIFEST_* | CARGO_CRATE_NAME | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | OUT_DIR) unset "$var" ;; esac
    done
    CARGO_TARGET_DIR="$cache/target" cargo build -q --locked -p fed-webhook --bin fed-webhook
  )
  cp "$cache/target/debug/fed-webhook" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  # Binaries of older commits are not needed again.
  find "$cache/bin" -name 'fed-webhook-*' ! -path "$bin" -delete
  log "built fed-webhook of ${rev:0:12} in $((SECONDS - start))s"
fi
"$HACK_DIR/images.sh" --webhook-from "$bin" --import
