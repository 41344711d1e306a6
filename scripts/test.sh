#!/usr/bin/env bash
# The project's test command: installs what it needs, then runs
#   1. formatting and lint checks (cargo fmt --check, clippy -D warnings),
#   2. the Rust unit and transcript tests of every crate (cargo test),
#   3. a build of every fuzz target,
#   4. the interoperability tests: real clients (smbclient, smbprotocol, smbtorture)
#      against a real nasd on loopback (pytest, tests/interop).
# Usage: scripts/test.sh [--quick]   (--quick: skip fuzz build and interop tests)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh --test
export PATH="$HOME/.cargo/bin:$PATH"
VENV=${NASD_VENV:-/var/tmp/nasd-venv}

step() { printf '\n=== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo build (nasd)"
cargo build --locked -p nasd

step "cargo test"
cargo test --workspace --locked

if [ "$quick" = 0 ]; then
  step "fuzz targets build"
  cargo build --manifest-path fuzz/Cargo.toml --bins

  step "interop tests (real clients against nasd)"
  NASD_BIN="$PWD/target/debug/nasd" "$VENV/bin/python" -m pytest -q tests/interop
fi
