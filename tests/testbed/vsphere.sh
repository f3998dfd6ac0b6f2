#!/usr/bin/env bash
# Install Go and Debian's govmomi and build the vSphere simulator launcher once per machine.
# Idempotent; run as root.
#   bash tests/testbed/vsphere.sh
# Environment: PYBUILD_TESTBED_CACHE (default /var/cache/pybuild-testbed).
#
# The launcher is tests/testbed/vcsim/main.go plus the simulator extension
# tests/testbed/vcsim/simulator/*.go, which is compiled into a copy of Debian's
# github.com/vmware/govmomi/simulator package (govmomi 0.24; the rest of govmomi is used as
# installed). The binary goes to $PYBUILD_TESTBED_CACHE/vsphere/vcsim-<recipe>/pybuild-vcsim,
# where <recipe> is the first 16 hex digits of a sha256 over the launcher's sources (each
# file's path under vcsim/, a NUL, its bytes, a NUL, in sorted path order): editing them builds
# a new one; so does a different govmomi or Go package version. The cache lives outside the
# checkout so that CI, which starts from a clean clone, reuses it.
# Last line printed: the binary's path.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
SRC="$HERE/vcsim"
CACHE="${PYBUILD_TESTBED_CACHE:-/var/cache/pybuild-testbed}"
VS_CACHE="$CACHE/vsphere"
BIN_NAME=pybuild-vcsim
GOCODE=/usr/share/gocode
GOVMOMI="$GOCODE/src/github.com/vmware/govmomi"
export DEBIAN_FRONTEND=noninteractive

say() { printf '[testbed] %s\n' "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
version() { dpkg-query -W -f='${Version}' "$1"; }

PACKAGES=(golang-go golang-github-vmware-govmomi-dev)

install_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    say "vsphere packages: all present"
    return
  fi
  say "vsphere packages: installing ${missing[*]}"
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

# The sources' digest, as tests/integration/vsphere/conftest.py computes it.
recipe() {
  local f
  (
    cd "$SRC"
    find . -type f -name '*.go' -printf '%P\n' | LC_ALL=C sort | while IFS= read -r f; do
      printf '%s\0' "$f"
      cat "$f"
      printf '\0'
    done
  ) | sha256sum | cut -c1-16
}

# A GOPATH whose github.com/vmware/govmomi is Debian's, except simulator/: a copy of
# Debian's with the extension files added.
make_gopath() {
  local gopath="$1" overlay entry
  overlay="$gopath/src/github.com/vmware/govmomi"
  mkdir -p "$overlay" "$gopath/src/pybuild-vcsim"
  for entry in "$GOVMOMI"/*; do
    [ "$(basename "$entry")" = simulator ] || ln -s "$entry" "$overlay/"
  done
  cp -r "$GOVMOMI/simulator" "$overlay/simulator"
  find "$overlay/simulator" -name '*_test.go' -delete
  cp "$SRC"/simulator/*.go "$overlay/simulator/"
  cp "$SRC"/*.go "$gopath/src/pybuild-vcsim/"
}

build_launcher() {
  local key info dir tmp t
  key="$(recipe)"
  info="govmomi $(version golang-github-vmware-govmomi-dev); golang-go $(version golang-go)"
  dir="$VS_CACHE/vcsim-$key"
  BIN="$dir/$BIN_NAME"
  if [ -x "$BIN" ] && [ "$(cat "$dir/build-info" 2>/dev/null)" = "$info" ]; then
    say "vcsim launcher: present (recipe $key)"
    touch "$dir"
    return
  fi
  [ -d "$GOVMOMI/simulator" ] || die "$GOVMOMI/simulator missing (golang-github-vmware-govmomi-dev)"
  say "vcsim launcher: building (recipe $key, $info; log: $VS_CACHE/build.log)"
  t="$(now)"
  rm -rf "$VS_CACHE"/.build-*  # a build killed half-way (we hold the lock)
  tmp="$(mktemp -d "$VS_CACHE/.build-$key.XXXXXX")"
  make_gopath "$tmp/gopath"
  if ! (cd "$tmp/gopath/src/pybuild-vcsim" \
    && GOPATH="$tmp/gopath:$GOCODE" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
      GOCACHE="$VS_CACHE/gocache" go build -o "$tmp/$BIN_NAME" .) >"$VS_CACHE/build.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$VS_CACHE/build.log" >&2
    die "go build of the vcsim launcher failed (see $VS_CACHE/build.log)"
  fi
  rm -rf "$tmp/gopath"
  printf '%s\n' "$info" >"$tmp/build-info"
  chmod 755 "$tmp" "$tmp/$BIN_NAME"  # tests need not run as root
  rm -rf "$dir"
  mv "$tmp" "$dir"
  say "vcsim launcher: go build took $(took "$t") s"
  # Launchers of other recipes (older checkouts, other branches) unused for two weeks.
  find "$VS_CACHE" -mindepth 1 -maxdepth 1 -name 'vcsim-*' ! -name "vcsim-$key" -mtime +14 \
    -exec rm -rf {} +
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages)"
  local t0 t
  t0="$(now)"
  t="$(now)"; install_packages; say "phase vsphere packages: $(took "$t") s"
  mkdir -p "$VS_CACHE"
  # One build at a time on this machine (two CI runs, or a developer and CI).
  exec 9>"$VS_CACHE/.lock"
  flock 9
  t="$(now)"; build_launcher; say "phase vcsim launcher: $(took "$t") s"
  say "vsphere ready in $(took "$t0") s"
  say "vcsim launcher: $BIN"
}

main "$@"
