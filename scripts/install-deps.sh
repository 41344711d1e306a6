#!/usr/bin/env bash
# Install what building and testing the appliance needs on Debian 12, idempotently.
#   scripts/install-deps.sh          build dependencies only
#   scripts/install-deps.sh --test   plus the real peers the tests use (Samba's smbclient,
#                                    smbtorture and smbd; Python smbprotocol and pytest)
#   scripts/install-deps.sh --vm     plus what scripts/vm-test.sh needs to build and boot
#                                    the qemu guest (qemu, mmdebstrap, kernel module build)
set -euo pipefail
test_peers=0
vm=0
for arg in "$@"; do
  case "$arg" in
    --test) test_peers=1 ;;
    --vm) vm=1 ;;
    *) echo "install-deps.sh: unknown option $arg (use --test and/or --vm)" >&2; exit 2 ;;
  esac
done

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

pkgs=(build-essential pkg-config libssl-dev libclang-dev clang libibverbs-dev librdmacm-dev attr)
if [ "$test_peers" = 1 ]; then
  pkgs+=(samba smbclient samba-testsuite samba-vfs-modules python3-venv procps iproute2)
fi
if [ "$vm" = 1 ]; then
  # qemu (software emulation), the guest rootfs builder, and what tests/vm's
  # build-smbdirect-modules.sh needs to rebuild cifs.ko/ksmbd.ko (it adds the matching
  # linux-headers/linux-source itself, since their version follows the guest kernel).
  pkgs+=(qemu-system-x86 mmdebstrap e2fsprogs bc flex bison binutils coreutils)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian samba package may start its own smbd/nmbd on 445; the tests bring up their own
# private instances on free ports, so the system one is only switched off, never needed.
if [ "$test_peers" = 1 ]; then
  for svc in smbd nmbd samba-ad-dc; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  done
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "installing the Rust toolchain with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

if [ "$test_peers" = 1 ]; then
  VENV=${NASD_VENV:-/var/tmp/nasd-venv}
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/python" -c 'import smbclient, pytest' 2>/dev/null ||
    "$VENV/bin/pip" install -q "smbprotocol>=1.13" "pytest>=8"
fi
