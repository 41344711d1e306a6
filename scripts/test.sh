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
  step "fuzz targets: build with coverage instrumentation, run each for a short while"
  # Stable-toolchain equivalent of cargo-fuzz's instrumentation (libFuzzer coverage counters);
  # an explicit --target keeps the flags off build scripts and proc macros.
  host=$(rustc -vV | sed -n 's/^host: //p')
  RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Copt-level=2" \
    cargo build --manifest-path fuzz/Cargo.toml --bins --target-dir fuzz/target --target "$host"
  for t in smb2_message ntlmssp spnego dcerpc smbd; do
    mkdir -p "fuzz/corpus/$t"
    fuzz/target/"$host"/debug/"$t" -max_total_time="${FUZZ_SECONDS:-15}" -max_len=65536 "fuzz/corpus/$t" 2>&1 | tail -n 1
  done

  step "interop tests (real clients against nasd)"
  NASD_BIN="$PWD/target/debug/nasd" "$VENV/bin/python" -m pytest -q tests/interop
fi
