#!/usr/bin/env bash
# Boot a qemu "bare-metal machine" against a Cobbler TFTP tree, as a PXE client would:
#   bash examples/metal/pxe-boot.sh TFTP_ROOT MAC DISK [SERIAL_LOG]
# TFTP_ROOT: the tree Cobbler's sync wrote (/srv/tftpboot, with pxelinux.0 and ldlinux.c32).
# MAC: the registered system's MAC (pxelinux reads pxelinux.cfg/01-<mac>).
# DISK: a raw file the machine's deploy ramdisk writes the image onto (created, 64 MiB, if
# missing). qemu's user-mode network serves TFTP_ROOT over TFTP and answers DHCP with
# pxelinux.0; the guest reaches the host's loopback as 10.0.2.2 (image_url=http://10.0.2.2:...).
# No KVM needed (-accel tcg). The machine powers off when the deploy ramdisk is done.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
tftp="$1" mac="$2" disk="$3" log="${4:-}"
[ -f "$tftp/pxelinux.0" ] || { echo "no pxelinux.0 in $tftp" >&2; exit 1; }
[ -e "$disk" ] || truncate -s 64M "$disk"
if [ -n "$log" ]; then serial="file:$log"; else serial=mon:stdio; fi
exec qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
  -serial "$serial" -monitor none \
  -drive "file=$disk,format=raw,if=virtio" \
  -netdev "user,id=n0,tftp=$tftp,bootfile=pxelinux.0" \
  -device "virtio-net-pci,netdev=n0,mac=$mac" \
  -boot n
