#!/bin/sh
# Install VMware Tools (open-vm-tools, the distribution's package VMware recommends) on
# Debian/Ubuntu (apt) or RHEL-family (dnf/yum) machines.
# Idempotent. Skips itself unless the machine runs on VMware; FORCE=1 installs anyway.
set -eu

log() { printf 'install-vmware-tools: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo -n"; fi

on_vmware() {
  for f in /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name; do
    [ -r "$f" ] && grep -qi vmware "$f" && return 0
  done
  command -v systemd-detect-virt >/dev/null 2>&1 && [ "$(systemd-detect-virt 2>/dev/null)" = vmware ]
}

if [ "${FORCE:-0}" != 1 ] && ! on_vmware; then
  log "not running on VMware: skipping (set FORCE=1 to install anyway)"
  exit 0
fi

if command -v vmtoolsd >/dev/null 2>&1; then
  log "already installed: $(vmtoolsd --version 2>&1)"
  exit 0
fi

ID="" ID_LIKE=""
[ -r /etc/os-release ] && . /etc/os-release

case "$ID $ID_LIKE" in
  *debian*|*ubuntu*)
    log "installing open-vm-tools with apt-get ($ID)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends open-vm-tools
    ;;
  *rhel*|*fedora*|*centos*|*rocky*|*almalinux*|*amzn*)
    if command -v dnf >/dev/null 2>&1; then pm=dnf; else pm=yum; fi
    log "installing open-vm-tools with $pm ($ID)"
    $SUDO "$pm" -y install open-vm-tools
    ;;
  *)
    log "unsupported distribution '$ID' (expected Debian/Ubuntu or the RHEL family)" >&2
    exit 1
    ;;
esac

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  # Debian names the unit open-vm-tools, RHEL vmtoolsd
  $SUDO systemctl enable --now open-vm-tools.service >/dev/null 2>&1 \
    || $SUDO systemctl enable --now vmtoolsd.service >/dev/null 2>&1 || true
fi

log "installed: $(vmtoolsd --version 2>&1)"
