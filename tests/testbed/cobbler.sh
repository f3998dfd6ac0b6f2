#!/usr/bin/env bash
# A real Cobbler (3.3.10 from PyPI) for the cobbler post-processor's tests. Run as root.
#   bash tests/testbed/cobbler.sh              install once per machine (idempotent)
#   bash tests/testbed/cobbler.sh start [DIR]  start cobblerd with a fresh state under DIR
#   bash tests/testbed/cobbler.sh stop [DIR]   stop it (by its recorded pid only)
# Environment: PYBUILD_TESTBED_CACHE (default /var/cache/pybuild-testbed);
#              DIR defaults to $PYBUILD_COBBLER_STATE, else /tmp/pybuild-cobbler.
#
# The install is a venv of Debian's python3 at $PYBUILD_TESTBED_CACHE/cobbler/venv-3.3.10:
# `pip install --no-deps cobbler==3.3.10` (a plain install pulls mod-wsgi, which needs
# Apache's apxs) and its runtime dependencies; rsync and libmagic1 from Debian.
#
# cobblerd hard-codes /etc/cobbler, /var/lib/cobbler, /var/log/cobbler, /var/www/cobbler and
# /srv/tftpboot. `start` runs it in a private mount namespace (unshare -m) where overlayfs
# puts DIR/ov/{etc,var,srv}/u over /etc, /var and /srv: the host is untouched, and everything
# cobblerd writes lands under DIR/ov/*/u (the TFTP tree in DIR/ov/srv/u/tftpboot). Each start
# begins from the files shipped in the wheel (the state of a previous session is removed).
# No Apache, systemd, tftpd or dhcpd. XML-RPC on http://127.0.0.1:25151/, login
# cobbler/cobbler. DIR must not be under /etc, /var or /srv (overlayfs refuses an upper
# directory inside its lower one). Last line of `start`: the pid.
set -euo pipefail

CACHE="${PYBUILD_TESTBED_CACHE:-/var/cache/pybuild-testbed}"
CB_CACHE="$CACHE/cobbler"
VERSION=3.3.10
VENV="$CB_CACHE/venv-$VERSION"
# Cobbler's runtime dependencies (its setup.py's install_requires, less mod-wsgi/python-ldap).
DEPS=(Cheetah3 distro dnspython file-magic netaddr pymongo pyyaml requests schema)
PORT=25151
URL="http://127.0.0.1:$PORT/"
export DEBIAN_FRONTEND=noninteractive

say() { printf '[testbed] %s\n' "$*"; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

PACKAGES=(rsync libmagic1 python3-venv util-linux pxelinux syslinux-common)

install_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then
    say "cobbler packages: all present"
    return
  fi
  say "cobbler packages: installing ${missing[*]}"
  apt-get update -q || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

install_cobbler() {
  local t
  if [ -x "$VENV/bin/cobblerd" ] && [ -e "$VENV/.complete" ]; then
    say "cobbler $VERSION: present ($VENV)"
    return
  fi
  say "cobbler $VERSION: installing into $VENV (log: $CB_CACHE/pip.log)"
  t="$(now)"
  rm -rf "$VENV"  # an install killed half-way has no .complete (we hold the lock)
  /usr/bin/python3 -m venv "$VENV" || die "python3 -m venv failed (python3-venv)"
  if ! { "$VENV/bin/pip" install -q --no-deps "cobbler==$VERSION" \
    && "$VENV/bin/pip" install -q "${DEPS[@]}"; } >"$CB_CACHE/pip.log" 2>&1; then
    rm -rf "$VENV"
    tail -n 30 "$CB_CACHE/pip.log" >&2
    die "pip install of cobbler $VERSION failed (see $CB_CACHE/pip.log)"
  fi
  touch "$VENV/.complete"
  say "cobbler $VERSION: pip install took $(took "$t") s"
}

state_dir() {
  local dir="${1:-${PYBUILD_COBBLER_STATE:-/tmp/pybuild-cobbler}}"
  mkdir -p "$dir"
  STATE="$(cd "$dir" && pwd)"
  case "$STATE/" in
    /etc/* | /var/* | /srv/*) die "state directory $STATE is under /etc, /var or /srv" ;;
  esac
}

answers() {
  "$VENV/bin/python3" -c "import xmlrpc.client as x; x.ServerProxy('$URL').version()" 2>/dev/null
}

port_in_use() { ss -ltnH "sport = :$PORT" 2>/dev/null | grep -q .; }

# The data files shipped in the wheel, laid out where cobblerd expects them (upper dirs).
lay_out() {
  local sp="$1" ov="$STATE/ov" d c w
  rm -rf "$ov"
  for d in etc var srv; do mkdir -p "$ov/$d/u" "$ov/$d/w"; done
  cp -a "$sp/etc/cobbler" "$ov/etc/u/"
  mkdir -p "$ov/var/u/lib" "$ov/var/u/www" "$ov/var/u/log/cobbler/tasks" \
    "$ov/var/u/log/cobbler/anamon" "$ov/var/u/cache/cobbler" "$ov/srv/u/tftpboot"
  cp -a "$sp/var/lib/cobbler" "$ov/var/u/lib/"
  cp -a "$sp/var/www/cobbler" "$ov/var/u/www/"
  for c in distros profiles systems images repos menus mgmtclasses packages files; do
    mkdir -p "$ov/var/u/lib/cobbler/collections/$c"
  done
  mkdir -p "$ov/var/u/lib/cobbler/loaders" "$ov/var/u/lib/cobbler/triggers"
  # What `cobbler mkloaders` would put there (it looks in /usr/share/syslinux; Debian's are
  # elsewhere): sync copies the loaders into the TFTP root, so a machine can PXE-boot from it.
  for f in /usr/lib/PXELINUX/pxelinux.0 /usr/lib/syslinux/modules/bios/{ldlinux,menu,libutil,libcom32}.c32; do
    [ -f "$f" ] && cp "$f" "$ov/var/u/lib/cobbler/loaders/"
  done
  touch "$ov/var/u/lib/cobbler/lock"  # must be a file: the serializer opens it
  for w in distro_mirror images links pub rendered repo_mirror repo_profile repo_system \
    localmirror; do
    mkdir -p "$ov/var/u/www/cobbler/$w"
  done
}

start() {
  local sp pid i t
  [ -x "$VENV/bin/cobblerd" ] || die "cobbler not installed: run bash $0 first"
  t="$(now)"
  stop_pid
  port_in_use && die "port $PORT is in use (another cobblerd?): cobblerd binds it"
  sp="$("$VENV/bin/python3" -c 'import cobbler, os; print(os.path.dirname(os.path.dirname(cobbler.__file__)))')"
  lay_out "$sp"
  # The mounts exist only in the new namespace; they go away with its last process.
  setsid unshare -m --propagation private -- /bin/sh -c '
    for d in etc var srv; do
      mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/ov/$d/u,workdir=$1/ov/$d/w" "/$d" \
        || exit 1
    done
    exec "$2/bin/python3" "$2/bin/cobblerd" -F
  ' cobblerd "$STATE" "$VENV" </dev/null >"$STATE/cobblerd.out" 2>&1 &
  pid=$!
  echo "$pid" >"$STATE/cobblerd.pid"
  for i in $(seq 1 120); do
    answers && break
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$STATE/cobblerd.out" >&2; die "cobblerd exited"; }
    [ "$i" -lt 120 ] || { tail -n 30 "$STATE/cobblerd.out" >&2; die "cobblerd did not answer within 30 s"; }
    sleep 0.25
  done
  say "cobblerd: up on $URL in $(took "$t") s (state $STATE, log $STATE/cobblerd.out)"
  echo "$pid"
}

# Stop the cobblerd this state directory's pid file names, if it is still cobblerd.
stop_pid() {
  local pid i
  [ -f "$STATE/cobblerd.pid" ] || return 0
  pid="$(cat "$STATE/cobblerd.pid")"
  rm -f "$STATE/cobblerd.pid"
  if ! grep -qa cobblerd "/proc/$pid/cmdline" 2>/dev/null; then
    return 0  # gone, or the pid is someone else's now
  fi
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || { say "cobblerd: $pid stopped"; return 0; }
    sleep 0.25
  done
  kill -9 "$pid" 2>/dev/null || true
  say "cobblerd: $pid killed"
}

main() {
  [ "$(id -u)" -eq 0 ] || die "run as root (installs packages; cobblerd needs a mount namespace)"
  local cmd="${1:-install}" t0 t
  case "$cmd" in
    install)
      t0="$(now)"
      t="$(now)"; install_packages; say "phase cobbler packages: $(took "$t") s"
      mkdir -p "$CB_CACHE"
      exec 9>"$CB_CACHE/.lock"  # one install at a time on this machine
      flock 9
      t="$(now)"; install_cobbler; say "phase cobbler install: $(took "$t") s"
      say "cobbler ready in $(took "$t0") s"
      say "cobbler venv: $VENV"
      ;;
    start) state_dir "${2:-}"; start ;;
    stop) state_dir "${2:-}"; stop_pid ;;
    *) die "usage: $0 [install | start [DIR] | stop [DIR]]" ;;
  esac
}

main "$@"
