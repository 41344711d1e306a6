#!/bin/bash
# Kept in the repository (from the workplace's shared VM notes, ../shared/vm) so that CI
# needs nothing outside the checkout; scripts/vm-test.sh runs it.
# Build a minimal Debian bookworm rootfs (with the stock 6.1 kernel + initrd)
# for the SMB Direct / soft-RoCE probe, and turn it into an ext4 image.
# Output: $W/rootfs.ext4, $W/vmlinuz, $W/initrd.img   (W=/var/tmp/vmprobe)
set -euo pipefail
W=${W:-/var/tmp/vmprobe}
KVER=${KVER:-$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{sub("linux-image-","",$2); print $2; exit}')}
mkdir -p "$W"
# Use the host's own apt sources (whatever mirror this machine is set up with),
# plus a bookworm-backports entry derived from them (ksmbd-tools needs it).
HOST_SOURCES=${HOST_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -f "$HOST_SOURCES" ] || HOST_SOURCES=/etc/apt/sources.list
uri=$(awk '/^URIs:/{print $2; exit} /^deb /{print $2; exit}' "$HOST_SOURCES")
printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$uri" > "$W/backports.sources"
command -v mmdebstrap >/dev/null || apt-get install -y --no-install-recommends mmdebstrap
command -v mkfs.ext4 >/dev/null || apt-get install -y e2fsprogs

PKGS=(
  linux-image-$KVER initramfs-tools kmod
  mount iproute2 procps iputils-ping
  rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest infiniband-diags
  # bookworm's ksmbd-tools 3.4.7 does not speak the netlink ABI of the
  # (heavily backported) ksmbd in 6.1.19x: every tree connect -> BAD_NETWORK_NAME
  ksmbd-tools/bookworm-backports cifs-utils keyutils
)
t0=$(date +%s)
rm -rf "$W/rootfs"
mmdebstrap --variant=essential --mode=root \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --customize-hook='echo vmprobe > "$1/etc/hostname"' \
  --customize-hook='echo "root:root" | chroot "$1" chpasswd' \
  bookworm "$W/rootfs" "$HOST_SOURCES" "$W/backports.sources"
t1=$(date +%s)
# drop apt lists / docs to keep the image small
rm -rf "$W/rootfs/var/lib/apt/lists/"* "$W/rootfs/usr/share/doc" "$W/rootfs/usr/share/man" "$W/rootfs/usr/share/locale"
cp -L "$W/rootfs/boot/vmlinuz-$KVER" "$W/vmlinuz"
cp -L "$W/rootfs/boot/initrd.img-$KVER" "$W/initrd.img"
du -sh "$W/rootfs"
rm -f "$W/rootfs.ext4"
# 2G sparse image, populated from the directory (no loop mount needed)
mkfs.ext4 -q -F -L vmroot -d "$W/rootfs" "$W/rootfs.ext4" 2G
t2=$(date +%s)
echo "mmdebstrap: $((t1-t0))s, image: $((t2-t1))s, total $((t2-t0))s"
ls -la "$W/rootfs.ext4" "$W/vmlinuz" "$W/initrd.img"
du -h "$W/rootfs.ext4"
