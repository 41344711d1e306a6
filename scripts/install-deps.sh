#!/usr/bin/env bash
# Install what building and testing the appliance needs on Debian 12, idempotently.
#   scripts/install-deps.sh          build dependencies only
#   scripts/install-deps.sh --test   plus the real peers the tests use (Samba's smbclient,
#                                    smbtorture and smbd; Python smbprotocol and pytest)
set -euo pipefail
test_peers=0
[ "${1:-}" = "--test" ] && test_peers=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

pkgs=(build-essential pkg-config libclang-dev clang libibverbs-dev librdmacm-dev attr)
if [ "$test_peers" = 1 ]; then
  pkgs+=(samba smbclient samba-testsuite samba-vfs-modules python3-venv procps iproute2)
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
