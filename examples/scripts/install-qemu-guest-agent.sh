#!/bin/sh
# Install the QEMU guest agent (qemu-guest-agent) on Debian/Ubuntu (apt) or RHEL-family
# (dnf/yum) machines, so the hypervisor can ask the guest for its addresses, freeze its file
# systems for snapshots and shut it down cleanly.
# Idempotent. A live system without a package manager (an installer ramdisk) is skipped.
set -eu

log() { printf 'install-qemu-guest-agent: %s\n' "$*"; }

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo -n"; fi

if command -v qemu-ga >/dev/null 2>&1; then
  log "already installed: $(qemu-ga --version 2>&1)"
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  log "installing qemu-guest-agent with apt-get"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends qemu-guest-agent
elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
  if command -v dnf >/dev/null 2>&1; then pm=dnf; else pm=yum; fi
  log "installing qemu-guest-agent with $pm"
  $SUDO "$pm" -y install qemu-guest-agent
else
  log "no package manager on this system (a live ramdisk?): skipping"
  exit 0
fi

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl enable --now qemu-guest-agent.service >/dev/null 2>&1 || true
fi

log "installed: $(qemu-ga --version 2>&1)"
