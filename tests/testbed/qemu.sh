#!/usr/bin/env bash
# Install qemu and build the qemu test ISO once per machine. Idempotent; run as root.
#   bash tests/testbed/qemu.sh
# Environment: PYBUILD_TESTBED_CACHE (default /var/cache/pybuild-testbed).
#
# The ISO goes to $PYBUILD_TESTBED_CACHE/qemu/iso-<recipe>/pybuild-test.iso, where <recipe> is
# the first 16 hex digits of make-iso.sh's sha256: editing make-iso.sh builds a new one. The
# cache lives outside the checkout so that CI, which starts from a clean clone, reuses it.
# Last lines printed: the ISO's path and sha256.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${PYBUILD_TESTBED_CACHE:-/var/cache/pybuild-testbed}"
QEMU_CACHE="$CACHE/qemu"
ISO_NAME=pybuild-test.iso
export DEBIAN_FRONTEND=noninteractive

say() { printf '[testbed] %s\n' "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# qemu itself, and what make-iso.sh builds from (busybox-static, not the dynamic busybox).
PACKAGES=(qemu-system-x86 qemu-utils e2fsprogs isolinux syslinux-common busybox-static
  dropbear-bin openssh-client openssh-sftp-server xorriso cpio)

install_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    say "qemu packages: all present"
    return
  fi
  say "qemu packages: installing ${missing[*]}"
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

build_iso() {
  local recipe dir tmp t
  recipe="$(sha256sum "$HERE/make-iso.sh" | cut -c1-16)"
  dir="$QEMU_CACHE/iso-$recipe"
  ISO="$dir/$ISO_NAME"
  if [ -s "$ISO" ] && [ -s "$ISO.sha256" ]; then
    say "qemu iso: present (recipe $recipe)"
    touch "$dir"
    return
  fi
  say "qemu iso: building (recipe $recipe; log: $QEMU_CACHE/make-iso.log)"
  t="$(now)"
  # The kernel comes from the newest linux-image-amd64 the mirror has.
  apt-get update -q >"$QEMU_CACHE/apt-update.log" 2>&1 \
    || say "qemu iso: apt-get update failed (see $QEMU_CACHE/apt-update.log); using the lists at hand"
  rm -rf "$QEMU_CACHE"/.iso-*  # a build killed half-way (we hold the lock)
  tmp="$(mktemp -d "$QEMU_CACHE/.iso-$recipe.XXXXXX")"
  if ! bash "$HERE/make-iso.sh" --deb-cache "$QEMU_CACHE/debs" "$tmp/$ISO_NAME" \
    >"$QEMU_CACHE/make-iso.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$QEMU_CACHE/make-iso.log" >&2
    die "make-iso.sh failed (see $QEMU_CACHE/make-iso.log)"
  fi
  chmod 755 "$tmp"  # tests need not run as root
  (cd "$tmp" && sha256sum "$ISO_NAME" >"$ISO_NAME.sha256")
  cp "$QEMU_CACHE/make-iso.log" "$tmp/make-iso.log"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  say "qemu iso: make-iso.sh took $(took "$t") s"
  # ISOs of other recipes (older checkouts, other branches) unused for two weeks.
  find "$QEMU_CACHE" -mindepth 1 -maxdepth 1 -name 'iso-*' ! -name "iso-$recipe" -mtime +14 \
    -exec rm -rf {} +
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages)"
  local t0 t
  t0="$(now)"
  t="$(now)"; install_packages; say "phase qemu packages: $(took "$t") s"
  mkdir -p "$QEMU_CACHE"
  # One build at a time on this machine (two CI runs, or a developer and CI).
  exec 9>"$QEMU_CACHE/.lock"
  flock 9
  t="$(now)"; build_iso; say "phase qemu iso: $(took "$t") s"
  say "qemu ready in $(took "$t0") s"
  say "qemu iso: $ISO"
  say "qemu iso sha256: $(cut -c1-64 "$ISO.sha256")"
}

main "$@"
