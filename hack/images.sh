#!/usr/bin/env bash
# Builds the test bed's container images without Docker or a registry, and writes their refs
# to .local/images.env (shell `KEY=VALUE` lines, read by hack/cluster-up.sh and the e2e harness):
#
#   FED_PAUSE_IMAGE     docker.io/kubectl-fed/pause:dev-<hash>       fed-pause; containerd's sandbox_image
#   FED_DEMO_IMAGE      docker.io/kubectl-fed/demo-web:dev-<hash>    fed-demo-web, HTTP on port 80 (runs as root)
#   FED_WEBHOOK_IMAGE   docker.io/kubectl-fed/fed-webhook:dev-<hash> fed-webhook, user 65532:65532, entrypoint and
#                                                                    arguments as in webhook/Dockerfile
#   FED_IMAGE_ARCHIVES  the oci-archive tarballs of the three, space-separated (for `ctr images import`)
#
# <hash> is the first 12 hex digits of the binary's sha256, so a rebuilt binary gets a new tag
# and a Deployment using it rolls. Each image is one layer: the binary from
# ${CARGO_TARGET_DIR:-target}/${FED_PROFILE:-debug}/ with its debug info stripped, the shared
# libraries `ldd` lists (with the dynamic loader) and an empty /tmp. It is packed with umoci
# into an OCI layout and copied by skopeo into .local/images/<name>-<key>.tar, where <key>
# hashes every input (binary, libraries, this script, config); an existing tarball is reused.
# The binaries are built first (`cargo build --workspace --bins`, the selection of `make build`,
# a no-op when they are fresh) unless --no-build is given and all three exist (hack/cluster-up.sh
# does that: `make build`, `make test` and hack/federation-up.sh build before they start the bed).
# Debian's umoci and skopeo are installed when missing.
#
#   hack/images.sh [--no-build] [--import]
#   hack/images.sh --webhook-from BIN [--import]
#
# --import also imports the images into every running node of the bed (what hack/cluster-up.sh
# does at start), e.g. after rebuilding fed-webhook: the new tag is then on every node.
# --webhook-from builds only a fed-webhook image, from the binary BIN (another commit's build:
# hack/previous-image.sh), and prints its ref; .local/images.env is left as it is.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

PROFILE="${FED_PROFILE:-debug}"
[[ "$PROFILE" == debug || "$PROFILE" == release ]] || die "FED_PROFILE must be debug or release (got '$PROFILE')"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/$PROFILE"
IMAGES_DIR="$LOCAL_DIR/images"
IMAGES_ENV="$LOCAL_DIR/images.env"
start=$SECONDS
build=1 import=0 webhook_from=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) build=0 ;;
    --import) import=1 ;;
    --webhook-from) webhook_from="${2:?--webhook-from needs a binary}"; build=0; shift ;;
    *) die "usage: hack/images.sh [--no-build] [--import] | --webhook-from BIN [--import]" ;;
  esac
  shift
done
if [[ -z "$webhook_from" ]]; then
  for b in fed-pause fed-demo-web fed-webhook; do [[ -x "$TARGET_DIR/$b" ]] || build=1; done
fi

ensure_debs umoci:umoci skopeo:skopeo objcopy:binutils ldd:libc-bin sha256sum:coreutils

# Same selection as `make build` so features unify the same way and nothing rebuilds; without
# the variables cargo sets for a test crate (ring's build script reruns when they change).
((build)) && (
  cd "$REPO_ROOT"
  for var in $(compgen -e); do
    case "$var" in CARGO_PKG_* | CARGO_MANIFEST_* | CARGO_CRATE_NAME | CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | OUT_DIR) unset "$var" ;; esac
  done
  if [[ "$PROFILE" == release ]]; then
    cargo build -q --release --workspace --bins
  else
    cargo build -q --workspace --bins
  fi
)

mkdir -p "$IMAGES_DIR"

# Prints the sha256 of FILE, cached in .local/images/.sha-<basename> by size, mtime and inode
# (fed-webhook's debug build is over 100 MB).
sha_of() {
  local stamp cache line
  cache="$IMAGES_DIR/.sha-$(basename "$1")"
  stamp="$(stat -c '%s %Y %i' "$1")"
  if [[ -f "$cache" ]] && read -r line <"$cache" && [[ "${line% *}" == "$stamp" ]]; then
    echo "${line##* }"
    return 0
  fi
  line="$(sha256sum "$1" | cut -d' ' -f1)"
  echo "$stamp $line" >"$cache"
  echo "$line"
}

# Prints the shared libraries and loader BIN needs (absolute paths, as ldd resolves them).
libs_of() { ldd "$1" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' | sort -u; }

# build_image NAME REPO BIN USER ARGS...: builds (or reuses) the image of BIN as REPO:dev-<hash>;
# the binary lands at /usr/local/bin/<basename>, which is the entrypoint; ARGS become Cmd.
# Sets IMAGE_REF and IMAGE_ARCHIVE.
build_image() {
  local name="$1" repo="$2" bin="$3" user="$4" base key tag work rootfs lib tmp
  shift 4
  [[ -x "$bin" ]] || die "$bin was not built"
  base="$(basename "$bin")"
  local sha
  sha="$(sha_of "$bin")"
  tag="dev-${sha:0:12}"
  IMAGE_REF="$repo:$tag"
  key="$(
    {
      echo "$sha"
      sha256sum "$0"
      for lib in $(libs_of "$bin"); do sha256sum "$(readlink -f "$lib")"; echo "$lib"; done
      printf '%s\n' "$IMAGE_REF" "$user" "$@"
    } | sha256sum | cut -c1-16
  )"
  IMAGE_ARCHIVE="$IMAGES_DIR/$name-$key.tar"
  if [[ -s "$IMAGE_ARCHIVE" ]]; then
    log "image $IMAGE_REF up to date ($IMAGE_ARCHIVE)"
    return 0
  fi
  local t0=$SECONDS
  work="$(mktemp -d "$IMAGES_DIR/.build-$name.XXXXXX")"
  rootfs="$work/rootfs"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  objcopy --strip-debug "$bin" "$rootfs/usr/local/bin/$base"
  for lib in $(libs_of "$bin"); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  local -a config=(--config.entrypoint "/usr/local/bin/$base" --config.workingdir /
    --config.env PATH=/usr/local/bin:/usr/bin:/bin)
  [[ -n "$user" ]] && config+=(--config.user "$user")
  for arg in "$@"; do config+=(--config.cmd "$arg"); done
  umoci init --layout "$work/oci"
  umoci new --image "$work/oci:img"
  umoci insert --image "$work/oci:img" "$rootfs" / >/dev/null
  umoci config --image "$work/oci:img" "${config[@]}"
  tmp="$IMAGE_ARCHIVE.tmp.$$"
  skopeo copy -q "oci:$work/oci:img" "oci-archive:$tmp:$IMAGE_REF" >/dev/null
  mv -f "$tmp" "$IMAGE_ARCHIVE"
  rm -rf "$work"
  # Older archives of the same image are no longer referenced.
  find "$IMAGES_DIR" -maxdepth 1 -name "$name-*.tar" ! -path "$IMAGE_ARCHIVE" -delete
  log "built image $IMAGE_REF in $((SECONDS - t0))s ($(du -h "$IMAGE_ARCHIVE" | cut -f1), $IMAGE_ARCHIVE)"
}

# Imports the archives FED_IMAGE_ARCHIVES names into every running node.
import_all() {
  for name in "${CLUSTERS[@]}" "${CLUSTERS[@]/%/-2}"; do # every node key (hack/lib-node.sh)
    if is_running containerd "$name"; then node_import_images "$name"; fi
  done
}

# Entrypoint, Cmd and user exactly as webhook/Dockerfile's ENTRYPOINT, CMD and USER.
webhook_image() { # NAME BIN
  build_image "$1" docker.io/kubectl-fed/fed-webhook "$2" 65532:65532 \
    serve --tls-cert=/tls/tls.crt --tls-key=/tls/tls.key --listen=0.0.0.0:9443
}

if [[ -n "$webhook_from" ]]; then
  webhook_image fed-webhook-from "$webhook_from" >&2
  if ((import)); then FED_IMAGE_ARCHIVES="$IMAGE_ARCHIVE" import_all; fi
  echo "$IMAGE_REF"
  exit 0
fi

# Pause runs as nobody, like the upstream pause image.
build_image pause docker.io/kubectl-fed/pause "$TARGET_DIR/fed-pause" 65535:65535
pause_ref="$IMAGE_REF" pause_tar="$IMAGE_ARCHIVE"
# Root in the pod: the server binds port 80 (a pod may still set runAsUser with --listen).
build_image demo-web docker.io/kubectl-fed/demo-web "$TARGET_DIR/fed-demo-web" ""
demo_ref="$IMAGE_REF" demo_tar="$IMAGE_ARCHIVE"
webhook_image fed-webhook "$TARGET_DIR/fed-webhook"
webhook_ref="$IMAGE_REF" webhook_tar="$IMAGE_ARCHIVE"

write_file_atomic "$IMAGES_ENV" <<EOF
# Written by hack/images.sh; images built from ${TARGET_DIR}.
FED_PAUSE_IMAGE=$pause_ref
FED_DEMO_IMAGE=$demo_ref
FED_WEBHOOK_IMAGE=$webhook_ref
FED_IMAGE_ARCHIVES="$pause_tar $demo_tar $webhook_tar"
EOF
chmod 644 "$IMAGES_ENV"
log "images ready in $((SECONDS - start))s; refs in $IMAGES_ENV"

if ((import)); then FED_IMAGE_ARCHIVES="$pause_tar $demo_tar $webhook_tar" import_all; fi
