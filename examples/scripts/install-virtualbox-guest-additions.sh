#!/bin/sh
# Install VirtualBox Guest Additions on Debian/Ubuntu (apt) or RHEL-family (dnf/yum) machines
# from the ISO that virtualbox-iso uploads (guest_additions_mode "upload", default path
# ~/VBoxGuestAdditions.iso; override with VBOX_ISO=/path). Without an ISO, Ubuntu's
# virtualbox-guest-utils package is used where the distribution has one.
# Idempotent. Skips itself unless the machine runs on VirtualBox; FORCE=1 installs anyway.
set -eu

log() { printf 'install-virtualbox-guest-additions: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo -n"; fi

on_virtualbox() {
  for f in /sys/class/dmi/id/product_name /sys/class/dmi/id/sys_vendor; do
    [ -r "$f" ] && grep -qiE 'virtualbox|innotek' "$f" && return 0
  done
  command -v systemd-detect-virt >/dev/null 2>&1 && [ "$(systemd-detect-virt 2>/dev/null)" = oracle ]
}

if [ "${FORCE:-0}" != 1 ] && ! on_virtualbox; then
  log "not running on VirtualBox: skipping (set FORCE=1 to install anyway)"
  exit 0
fi

if command -v VBoxService >/dev/null 2>&1; then
  log "already installed: $(VBoxService --version 2>&1)"
  exit 0
fi
for d in /opt/VBoxGuestAdditions-*; do
  if [ -e "$d/init/vboxadd" ]; then
    log "already installed in $d"
    exit 0
  fi
done

ID="" ID_LIKE=""
[ -r /etc/os-release ] && . /etc/os-release
case "$ID $ID_LIKE" in
  *debian*|*ubuntu*) family=debian ;;
  *rhel*|*fedora*|*centos*|*rocky*|*almalinux*|*amzn*) family=rhel ;;
  *) log "unsupported distribution '$ID' (expected Debian/Ubuntu or the RHEL family)" >&2; exit 1 ;;
esac

iso="${VBOX_ISO:-}"
if [ -z "$iso" ]; then
  for candidate in "$HOME"/VBoxGuestAdditions*.iso /root/VBoxGuestAdditions*.iso; do
    if [ -r "$candidate" ]; then iso="$candidate"; break; fi
  done
fi

if [ -z "$iso" ] && [ "$family" = debian ]; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  if apt-cache show virtualbox-guest-utils >/dev/null 2>&1; then
    log "no Guest Additions ISO; installing the distribution's virtualbox-guest-utils"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q virtualbox-guest-utils
    exit 0
  fi
fi
if [ -z "$iso" ]; then
  log "no Guest Additions ISO found (set VBOX_ISO, or guest_additions_mode \"upload\")" >&2
  exit 1
fi

log "building the kernel modules needs a compiler and the kernel headers"
if [ "$family" = debian ]; then
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    build-essential dkms bzip2 perl "linux-headers-$(uname -r)"
else
  if command -v dnf >/dev/null 2>&1; then pm=dnf; else pm=yum; fi
  $SUDO "$pm" -y install gcc make perl bzip2 tar elfutils-libelf-devel "kernel-devel-$(uname -r)"
fi

mnt="$(mktemp -d)"
trap '$SUDO umount "$mnt" 2>/dev/null || true; rmdir "$mnt" 2>/dev/null || true' EXIT
$SUDO mount -o loop,ro "$iso" "$mnt"
log "running VBoxLinuxAdditions.run from $iso"
# Exit status 2 means "modules built, load them after a reboot": that is fine for an image.
rc=0
$SUDO sh "$mnt/VBoxLinuxAdditions.run" --nox11 || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
  log "VBoxLinuxAdditions.run failed with status $rc" >&2
  exit "$rc"
fi
log "installed"
