#!/usr/bin/env bash
# Build the qemu test ISO from Debian packages: an isolinux `boot:` prompt that waits forever,
# Debian's linux-image-amd64 kernel and a small initramfs (busybox-static, dropbear, scp,
# sftp-server, mke2fs, a few kernel modules). tests/testbed/qemu.sh installs the packages and
# caches the result; this script only builds (no root needed).
#   bash tests/testbed/make-iso.sh [--deb-cache DIR] OUTPUT.iso
#
# Typed at the prompt:  linux url=http://10.0.2.2:PORT/preseed.cfg
# The guest loads drivers for its PCI and virtio devices, DHCPs (qemu user-mode), fetches url=
# and reads it line by line:
#   # comment, blank lines          ignored
#   ssh-ed25519 AAAA... (any authorized_keys line, options allowed)
#   authorized_key=<authorized_keys line>
#   root_password=<password>        enables password logins for root
# With neither a key nor a password it tries <directory of url>/authorized_keys (or keys_url=
# from the command line). Then dropbear listens on :22 as root, its host keys printed on the
# serial console as `host key: TYPE BASE64`. `poweroff` powers the machine off (qemu exits).
#
# Reproducible: the same packages give the same bytes (SOURCE_DATE_EPOCH fixed below).
# NB busybox-static 1.35's `wget -T N` segfaults: the guest uses `timeout N wget`.
set -euo pipefail

export SOURCE_DATE_EPOCH=1700000000 LC_ALL=C TZ=UTC
DEB_CACHE=""
MODULES="virtio_pci virtio_net virtio_blk virtio_scsi virtio_rng e1000 e1000e e100 8139cp
  8139too pcnet32 ne2k_pci ata_piix ahci sym53c8xx sd_mod sr_mod af_packet crc32c_generic
  crct10dif_generic ext4 isofs"

say() { printf '[make-iso] %s\n' "$*"; }
die() { printf '[make-iso] ERROR: %s\n' "$*" >&2; exit 1; }

usage() { die "usage: make-iso.sh [--deb-cache DIR] OUTPUT.iso"; }
while [ $# -gt 1 ]; do
  case "$1" in
    --deb-cache) DEB_CACHE="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[ $# -eq 1 ] || usage
OUTPUT="$1"

ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX_C32=/usr/lib/syslinux/modules/bios/ldlinux.c32
SFTP_SERVER=/usr/lib/openssh/sftp-server

check_tools() {
  local tool missing=()
  for tool in xorriso cpio gzip dpkg-deb apt-get apt-cache dropbear dropbearkey scp mke2fs; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  for tool in "$ISOLINUX_BIN" "$LDLINUX_C32" "$SFTP_SERVER" /bin/busybox; do
    [ -e "$tool" ] || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run \`bash tests/testbed/qemu.sh\` as root"
  # The Debian package busybox (dynamic) would need its libraries in the initramfs.
  if ldd /bin/busybox >/dev/null 2>&1; then
    die "/bin/busybox is dynamically linked: apt-get install busybox-static"
  fi
}

# The .deb of the kernel linux-image-amd64 depends on right now (downloaded, not installed).
kernel_deb() {
  local pkg deb
  pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
  [ -n "$pkg" ] || die "apt-cache knows no linux-image-amd64: run apt-get update"
  mkdir -p "$DEB_CACHE"
  deb="$(find "$DEB_CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n 1)"
  if [ -z "$deb" ]; then
    say "kernel: downloading $pkg into $DEB_CACHE" >&2
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$DEB_CACHE" && apt-get download -q "${sandbox[@]}" "$pkg" >&2) \
      || die "apt-get download $pkg failed (apt-get update may help)"
    deb="$(find "$DEB_CACHE" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -n 1)"
    # Older kernels are not needed again.
    find "$DEB_CACHE" -maxdepth 1 -name 'linux-image-*.deb' ! -name "${pkg}_*.deb" -delete
  fi
  printf '%s\n' "$deb"
}

# Copy a dynamically linked binary and its libraries into the initramfs root.
copy_bin() {  # SOURCE DEST (relative to the root)
  local lib
  rm -f "$2"
  cp -L "$1" "$2"
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    case "$lib" in
      /lib64/*) cp -nL "$lib" lib64/ ;;
      *) cp -nL "$lib" lib/x86_64-linux-gnu/ ;;
    esac
  done
}

# A module and, through modinfo's depends=, everything it needs.
declare -A MODULE_PATH MODULE_DONE
add_module() {  # NAME
  local name="${1//-/_}" file dep
  [ -z "${MODULE_DONE[$name]:-}" ] || return 0
  MODULE_DONE[$name]=1
  file="${MODULE_PATH[$name]:-}"
  [ -n "$file" ] || return 0  # built into the kernel (or absent): nothing to copy
  mkdir -p "lib/modules/$KVER/$(dirname "${file#"$MODSRC"/}")"
  cp "$file" "lib/modules/$KVER/${file#"$MODSRC"/}"
  for dep in $(tr '\0' '\n' <"$file" | sed -n 's/^depends=//p' | tr , ' '); do
    add_module "$dep"
  done
}

write_etc() {
  echo 'root:x:0:0:root:/root:/bin/sh' >etc/passwd
  echo 'root:*:19000:0:99999:7:::' >etc/shadow
  chmod 600 etc/shadow
  echo 'root:x:0:' >etc/group
  echo '/bin/sh' >etc/shells
  echo 'export PATH=/bin PS1="pybuild-test# "' >etc/profile
  echo 'pybuild-test' >etc/hostname
  cp /etc/mke2fs.conf etc/

  cat >init <<'EOF'
#!/bin/sh
# initramfs /init: mount the kernel file systems, then hand PID 1 to busybox init.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
exec /bin/init
EOF
  cat >etc/inittab <<'EOF'
::sysinit:/etc/rc.boot
tty1::respawn:-/bin/sh
::ctrlaltdel:/bin/reboot
::shutdown:/etc/rc.shutdown
EOF
  cat >etc/rc.shutdown <<'EOF'
#!/bin/sh
read up _ </proc/uptime
echo "[pybuild-test $up] powering off"
killall dropbear 2>/dev/null
sync
umount -a -r 2>/dev/null
true
EOF
  cat >etc/udhcpc.script <<'EOF'
#!/bin/sh
case "$1" in
  deconfig) ifconfig "$interface" 0.0.0.0 up ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
    if [ -n "$router" ]; then
      route del default 2>/dev/null
      route add default gw "${router%% *}" dev "$interface"
    fi
    : >/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done ;;
esac
exit 0
EOF
  write_rc_boot
  chmod 755 init etc/rc.boot etc/rc.shutdown etc/udhcpc.script
}

write_rc_boot() {
  cat >etc/rc.boot <<'EOF'
#!/bin/sh
# The test ISO's boot script (busybox init sysinit); every line it prints starts with
# "[pybuild-test UPTIME]" on the serial console.
export PATH=/bin
t() { read up _ </proc/uptime; echo "[pybuild-test $up] $*"; }
t "boot: $(cat /proc/cmdline)"
hostname -F /etc/hostname
URL= KEYS_URL= IFACE= PASSWORD_SET= IMAGE_URL= IMAGE_DISK=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    url=*|preseed/url=*|ks=*) URL=${arg#*=} ;;
    keys_url=*) KEYS_URL=${arg#*=} ;;
    image_url=*) IMAGE_URL=${arg#*=} ;;
    image_disk=*) IMAGE_DISK=${arg#*=} ;;
    hostname=*) hostname "${arg#*=}" ;;
  esac
done

# Drivers for the PCI devices present, then for the virtio devices they expose.
for bus in pci virtio; do
  for f in /sys/bus/$bus/devices/*/modalias; do
    [ -f "$f" ] && modprobe -q "$(cat "$f")" 2>/dev/null
  done
done
for m in af_packet sd_mod crc32c_generic crct10dif_generic ext4; do modprobe -q $m 2>/dev/null; done
ip link set lo up
i=0
while [ $i -lt 100 ]; do
  IFACE=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
  [ -n "$IFACE" ] && break
  sleep 0.1; i=$((i + 1))
done
t "drivers: $(lsmod | tail -n +2 | wc -l) modules; interface ${IFACE:-none}; disks: $(ls /sys/block | tr '\n' ' ')"
if [ -n "$IFACE" ]; then
  ip link set "$IFACE" up
  if ! udhcpc -i "$IFACE" -s /etc/udhcpc.script -n -q -t 10 -T 1 >/run/udhcpc.log 2>&1; then
    t "dhcp failed: static 10.0.2.15/24"
    ifconfig "$IFACE" 10.0.2.15 netmask 255.255.255.0 up
    route add default gw 10.0.2.2
  fi
  t "network: $(ip -4 -o addr show dev "$IFACE" | awk '{ print $4 }')"
fi

# A deploy ramdisk (PXE-booted by Cobbler): image_url=URL [image_disk=/dev/vda] writes the raw
# image at URL onto the disk (the first of vda, sda, nvme0n1 when not named), then powers off.
if [ -n "$IMAGE_URL" ]; then
  if [ -z "$IMAGE_DISK" ]; then
    for d in vda sda nvme0n1 xvda; do
      [ -e "/sys/block/$d" ] && { IMAGE_DISK=/dev/$d; break; }
    done
  fi
  [ -n "$IMAGE_DISK" ] && [ ! -b "$IMAGE_DISK" ] && [ -e "/sys/block/${IMAGE_DISK#/dev/}/dev" ] \
    && mknod "$IMAGE_DISK" b $(tr ':' ' ' <"/sys/block/${IMAGE_DISK#/dev/}/dev")
  if [ -z "$IMAGE_DISK" ] || [ ! -b "$IMAGE_DISK" ]; then
    t "deploy: FAILED: no disk to write to (${IMAGE_DISK:-none found}; disks: $(ls /sys/block | tr '\n' ' '))"
  else
    t "deploy: writing $IMAGE_URL to $IMAGE_DISK"
    i=0 ok=
    until [ -n "$ok" ] || [ $i -ge 5 ]; do
      if wget -q -O - "$IMAGE_URL" >"$IMAGE_DISK"; then ok=1; else i=$((i + 1)); sleep 1; fi
    done
    sync
    if [ -n "$ok" ]; then
      t "deploy: done: $IMAGE_URL written to $IMAGE_DISK; powering off"
    else
      t "deploy: FAILED: could not fetch $IMAGE_URL"
    fi
  fi
  sync
  poweroff -f  # from sysinit: busybox init would act on a plain poweroff only after rc.boot
fi

# The preseed file: authorized_keys lines, authorized_key=LINE, root_password=PASSWORD.
apply_preseed() {
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$(printf '\r')"}
    case "$line" in
      ''|'#'*) ;;
      root_password=*)
        hash=$(printf '%s' "${line#root_password=}" | mkpasswd -m sha512 -P 0)
        echo "root:$hash:19000:0:99999:7:::" >/etc/shadow
        PASSWORD_SET=1 ;;
      authorized_key=*) printf '%s\n' "${line#authorized_key=}" >>/root/.ssh/authorized_keys ;;
      *=*) t "preseed: ignored unknown setting ${line%%=*}" ;;
      *) printf '%s\n' "$line" >>/root/.ssh/authorized_keys ;;
    esac
  done <"$1"
}
if [ -n "$URL" ]; then
  i=0
  until timeout 10 wget -q -O /run/preseed.cfg "$URL"; do
    i=$((i + 1))
    [ $i -ge 10 ] && { t "preseed: could not fetch $URL"; break; }
    sleep 1
  done
  if [ -s /run/preseed.cfg ]; then
    t "preseed: fetched $URL ($(wc -c </run/preseed.cfg) bytes)"
    apply_preseed /run/preseed.cfg
  fi
  [ -s /root/.ssh/authorized_keys ] || [ -n "$PASSWORD_SET" ] || KEYS_URL=${KEYS_URL:-${URL%/*}/authorized_keys}
fi
if [ -n "$KEYS_URL" ] && timeout 10 wget -q -O /run/authorized_keys "$KEYS_URL"; then
  cat /run/authorized_keys >>/root/.ssh/authorized_keys
  t "preseed: fetched $KEYS_URL"
fi
chmod 600 /root/.ssh/authorized_keys 2>/dev/null

# Host keys: ecdsa and ed25519 now (~0.1 s each under TCG), rsa when a client asks (-R).
# Dropbear 2022.83 offers ssh-rsa even without an RSA key and aborts when a client picks it,
# so it never runs with ed25519 alone.
for k in ecdsa ed25519; do
  dropbearkey -t $k -f /etc/dropbear/dropbear_${k}_host_key >/dev/null 2>&1
  t "host key: $(dropbearkey -y -f /etc/dropbear/dropbear_${k}_host_key | grep -E '^(ssh|ecdsa)-' | cut -d' ' -f1,2)"
done
if [ -n "$PASSWORD_SET" ]; then no_password=; else no_password=-s; fi
dropbear -R $no_password -p 22 -P /run/dropbear.pid -E 2>/dev/console
keys=$(grep -c . /root/.ssh/authorized_keys 2>/dev/null || true)
if [ -n "$PASSWORD_SET" ]; then password=on; else password=off; fi
t "sshd: dropbear on :22 for root; ${keys:-0} authorized keys; password login $password"
EOF
}

build_initramfs() {  # ROOT OUTPUT.gz
  local name a
  mkdir -p "$1"
  cd "$1"
  mkdir -p bin lib/x86_64-linux-gnu lib64 etc/dropbear dev proc sys run tmp mnt root/.ssh var/log
  ln -s bin sbin
  mkdir usr
  ln -s ../bin usr/bin
  ln -s ../bin usr/sbin
  ln -s ../lib usr/lib
  chmod 700 root root/.ssh
  chmod 1777 tmp

  cp /bin/busybox bin/busybox
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "bin/$a"
  done
  copy_bin "$(command -v dropbear)" bin/dropbear
  copy_bin "$(command -v dropbearkey)" bin/dropbearkey
  copy_bin "$(command -v scp)" bin/scp  # `scp -t` on the guest side of scp uploads
  copy_bin "$SFTP_SERVER" lib/sftp-server  # dropbear's sftp subsystem: /usr/lib/sftp-server
  copy_bin "$(command -v mke2fs)" bin/mke2fs
  for name in mkfs.ext2 mkfs.ext3 mkfs.ext4; do ln -sf mke2fs "bin/$name"; done

  while read -r name; do
    a="${name##*/}"
    a="${a%.ko}"
    MODULE_PATH[${a//-/_}]="$name"
  done < <(find "$MODSRC/kernel" -name '*.ko' | sort)
  for name in $MODULES; do add_module "$name"; done
  cp "$MODSRC/modules.order" "$MODSRC/modules.builtin" "lib/modules/$KVER/"
  /bin/busybox depmod -b "$1" "$KVER"

  write_etc
  find . -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  find . -print0 | sort -z \
    | cpio --null --reproducible -o -H newc -R 0:0 --quiet | gzip -9 -n >"$2"
  cd - >/dev/null
}

write_iso_tree() {  # DIR INITRD
  mkdir -p "$1/isolinux" "$1/boot"
  cp "$KROOT/boot/vmlinuz-$KVER" "$1/boot/vmlinuz"
  cp "$2" "$1/boot/initrd.gz"
  cp "$ISOLINUX_BIN" "$LDLINUX_C32" "$1/isolinux/"
  cat >"$1/isolinux/isolinux.cfg" <<'EOF'
SERIAL 0 115200
DISPLAY boot.msg
PROMPT 1
TIMEOUT 0
DEFAULT linux
LABEL linux
  KERNEL /boot/vmlinuz
  APPEND initrd=/boot/initrd.gz console=tty0 console=ttyS0,115200 quiet
LABEL install
  KERNEL /boot/vmlinuz
  APPEND initrd=/boot/initrd.gz console=tty0 console=ttyS0,115200 quiet
EOF
  printf '\r\npybuild test ISO (Debian kernel %s)\r\nType:  linux url=http://HOST:PORT/preseed.cfg\r\n' \
    "$KVER" >"$1/isolinux/boot.msg"
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

main() {
  check_tools
  WORK="$(mktemp -d /var/tmp/pybuild-make-iso.XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  DEB_CACHE="${DEB_CACHE:-$WORK/debs}"
  local deb
  deb="$(kernel_deb)"
  KVER="$(basename "$deb" | sed -E 's/^linux-image-([^_]+)_.*/\1/')"
  say "kernel: $(basename "$deb")"
  KROOT="$WORK/kernel"
  mkdir -p "$KROOT"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$KROOT" --wildcards './boot/vmlinuz-*' './lib/modules/*'
  MODSRC="$KROOT/lib/modules/$KVER"
  [ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "$deb holds no /boot/vmlinuz-$KVER"

  build_initramfs "$WORK/root" "$WORK/initrd.gz"
  write_iso_tree "$WORK/iso" "$WORK/initrd.gz"
  xorriso -as mkisofs -quiet -o "$WORK/out.iso" -V PYBUILD_TEST -r -J \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
    -boot-info-table "$WORK/iso" >"$WORK/xorriso.log" 2>&1 \
    || { cat "$WORK/xorriso.log" >&2; die "xorriso failed"; }
  mkdir -p "$(dirname "$OUTPUT")"
  mv "$WORK/out.iso" "$OUTPUT"
  say "iso: $OUTPUT ($(stat -c %s "$OUTPUT") bytes; initrd $(stat -c %s "$WORK/initrd.gz") bytes)"
}

main
