#!/bin/sh
# Install cloud-init on Debian/Ubuntu (apt) or RHEL-family (dnf/yum) machines.
# Idempotent: does nothing when cloud-init is already installed. Runs as root or with sudo.
set -eu

log() { printf 'install-cloud-init: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo -n"; fi

if command -v cloud-init >/dev/null 2>&1; then
  log "already installed: $(cloud-init --version 2>&1)"
  exit 0
fi

ID="" ID_LIKE=""
[ -r /etc/os-release ] && . /etc/os-release
family="$ID $ID_LIKE"

case "$family" in
  *debian*|*ubuntu*)
    log "installing with apt-get ($ID)"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cloud-init
    ;;
  *rhel*|*fedora*|*centos*|*rocky*|*almalinux*|*amzn*)
    if command -v dnf >/dev/null 2>&1; then pm=dnf; else pm=yum; fi
    log "installing with $pm ($ID)"
    $SUDO "$pm" -y install cloud-init
    ;;
  *)
    log "unsupported distribution '$ID' (expected Debian/Ubuntu or the RHEL family)" >&2
    exit 1
    ;;
esac

# Enable the boot stages where systemd runs (not in a container or chroot).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for unit in cloud-init-local cloud-init cloud-config cloud-final; do
    $SUDO systemctl enable "$unit.service" >/dev/null 2>&1 || true
  done
fi

log "installed: $(cloud-init --version 2>&1)"
