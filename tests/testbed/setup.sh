#!/usr/bin/env bash
# Install and start what the integration tests need: dockerd, the local Debian base image
# (debootstrap, no registry), the sshd test-host image and headless Chromium (the timeline
# test). Idempotent; run as root.
#   bash tests/testbed/setup.sh
# Environment: PYBUILD_TESTBED_MIRROR (default http://deb.debian.org/debian),
#              PYBUILD_TESTBED_CACHE (default /var/cache/pybuild-testbed).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${PYBUILD_TESTBED_MIRROR:-http://deb.debian.org/debian}"
CACHE="${PYBUILD_TESTBED_CACHE:-/var/cache/pybuild-testbed}"
SOCK=/var/run/docker.sock
DOCKERD_LOG=/var/log/pybuild-dockerd.log
BASE_IMAGE=pybuild-test/debian:bookworm
SSHD_IMAGE=pybuild-test/sshd:bookworm
ROOTFS_TAR="$CACHE/debian-bookworm-minbase.tar"

# Talk to the local engine only, whatever the caller's environment says.
export DOCKER_HOST="unix://$SOCK" DOCKER_BUILDKIT=0 DEBIAN_FRONTEND=noninteractive
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_CONFIG

say() { printf '[testbed] %s\n' "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

SCRATCH=()
cleanup() { [ ${#SCRATCH[@]} -eq 0 ] || rm -rf "${SCRATCH[@]}"; }
trap cleanup EXIT
scratch_dir() {  # mktemp -d whose result is removed on exit; sets SCRATCH_DIR
  SCRATCH_DIR="$(mktemp -d "$1")"
  SCRATCH+=("$SCRATCH_DIR")
}

# The Debian client matches the Debian daemon (20.10); a newer client elsewhere on PATH
# would warn about BuildKit.
docker_cli() {
  if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else command docker "$@"; fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  if [ "$BASE_ONLY" = 0 ]; then
    command -v scp >/dev/null || missing+=(openssh-client)
    [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)   # docker-push tests
    command -v packer >/dev/null || missing+=(packer)               # parity tests and bench/
    [ -x /usr/bin/chromium ] || missing+=(chromium)                 # timeline browser test
  fi
  [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  if [ ${#missing[@]} -eq 0 ]; then
    say "packages: all present"
    return
  fi
  say "packages: installing ${missing[*]}"
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

engine_answers() { docker_cli info >/dev/null 2>&1; }

start_dockerd() {
  if engine_answers; then
    say "dockerd: already answering on $SOCK"
    return
  fi
  say "dockerd: starting (log: $DOCKERD_LOG)"
  setsid dockerd --host="unix://$SOCK" </dev/null >>"$DOCKERD_LOG" 2>&1 &
  local i
  for i in $(seq 1 120); do
    engine_answers && return
    sleep 0.5
  done
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer on $SOCK within 60 s (see $DOCKERD_LOG)"
}

image_exists() { docker_cli image inspect "$1" >/dev/null 2>&1; }

debootstrap_rootfs() {
  local dir
  mkdir -p "$CACHE"
  scratch_dir /var/tmp/pybuild-rootfs.XXXXXX
  dir="$SCRATCH_DIR"
  say "base image: debootstrap --variant=minbase bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -n 30 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed (see $CACHE/debootstrap.log)"
  }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" --numeric-owner -cf "$ROOTFS_TAR.tmp" . || die "cannot write $ROOTFS_TAR"
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
}

build_base_image() {
  if image_exists "$BASE_IMAGE"; then
    say "base image: $BASE_IMAGE present"
    return
  fi
  local t
  t="$(now)"
  if [ -s "$ROOTFS_TAR" ]; then
    say "base image: using cached rootfs $ROOTFS_TAR"
  else
    debootstrap_rootfs
    say "base image: debootstrap took $(took "$t") s"
  fi
  t="$(now)"
  docker_cli import "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null || die "docker import of $ROOTFS_TAR failed"
  say "base image: docker import took $(took "$t") s"
}

build_sshd_image() {
  local recipe current t ctx
  recipe="$(sha256sum "$HERE/Dockerfile.sshd" | cut -c1-16)"
  current="$(docker_cli image inspect -f '{{ index .Config.Labels "pybuild-test.recipe" }}' \
    "$SSHD_IMAGE" 2>/dev/null || true)"
  if [ "$current" = "$recipe" ]; then
    say "sshd image: $SSHD_IMAGE present (recipe $recipe)"
    return
  fi
  say "sshd image: building $SSHD_IMAGE (recipe $recipe)"
  t="$(now)"
  scratch_dir /tmp/pybuild-sshd-build.XXXXXX
  ctx="$SCRATCH_DIR"
  cp "$HERE/Dockerfile.sshd" "$ctx/Dockerfile"
  docker_cli build --network host --label "pybuild-test.recipe=$recipe" -t "$SSHD_IMAGE" "$ctx" \
    >"$CACHE/sshd-build.log" 2>&1 || {
    tail -n 30 "$CACHE/sshd-build.log" >&2
    die "docker build of $SSHD_IMAGE failed (see $CACHE/sshd-build.log)"
  }
  say "sshd image: docker build took $(took "$t") s"
}

BASE_ONLY=0

main() {
  # --base-only: just dockerd and the Debian base image (what the README's main job needs)
  [ "${1:-}" = "--base-only" ] && BASE_ONLY=1
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages and starts dockerd)"
  local t0 t
  t0="$(now)"
  t="$(now)"; install_packages; say "phase packages: $(took "$t") s"
  t="$(now)"; start_dockerd; say "phase dockerd: $(took "$t") s"
  mkdir -p "$CACHE"
  t="$(now)"; build_base_image; say "phase base image: $(took "$t") s"
  if [ "$BASE_ONLY" = 0 ]; then
    t="$(now)"; build_sshd_image; say "phase sshd image: $(took "$t") s"
    t="$(now)"; bash "$HERE/qemu.sh"; say "phase qemu: $(took "$t") s"
    t="$(now)"; bash "$HERE/vsphere.sh"; say "phase vsphere: $(took "$t") s"
    t="$(now)"; bash "$HERE/openstack.sh"; say "phase openstack: $(took "$t") s"
    t="$(now)"; bash "$HERE/cobbler.sh"; say "phase cobbler: $(took "$t") s"
  fi
  say "ready in $(took "$t0") s"
}

main "$@"
