#!/usr/bin/env bash
# End-to-end test of nasd with the Linux kernel SMB client, inside a qemu guest with
# soft-RoCE (see docs/testing.md). Needs root; re-runnable.
#   1. builds, or reuses when newer than their inputs, the guest rootfs + kernel + initrd and
#      cifs.ko/ksmbd.ko rebuilt with SMB Direct (tests/vm/build-rootfs.sh and
#      build-smbdirect-modules.sh);
#   2. builds nasd (cargo build --release), or takes $NASD_RELEASE_BIN; copies it and
#      tests/vm/guest-init.sh into the rootfs; boots the guest under qemu (software
#      emulation, one NIC on an isolated hub: nothing leaves the VM);
#   3. the guest mounts nasd with cifs over TCP (3.1.1, 3.1.1+seal, 3.0, 3.0+seal) and over
#      SMB Direct (`-o rdma`, signing required and not), runs a file and directory workload
#      with sha256 checks, checks nasd's own SMB Direct counters (RDMA read/write moved the
#      data when signing is off), mounts ksmbd over SMB Direct the same way, and benchmarks
#      nasd against ksmbd (sequential 1 MiB direct I/O; MB/s and CPU s/GiB as ratios);
#   4. parses the serial log: exit 0 iff the guest's SUMMARY is there and has no FAIL.
# Environment:
#   NASD_VM_DIR      work dir (default /var/tmp/nasd-vm)
#   NASD_VM_SHARED   where build-rootfs.sh and build-smbdirect-modules.sh are (default
#                    <repo>/tests/vm)
#   NASD_RELEASE_BIN use this nasd binary instead of building one
#   VM_BIG_SIZE      largest file on the 3.1.1 mount, bytes or 64M/1G (default 64M; 1G adds
#                    about 6.5 minutes under emulation)
#   VM_OTHER_MAX     largest file on the other TCP mounts (default 64M)
#   VM_RDMA_MAX      largest file on the rdma mounts (default and least 64M; 1G for the full
#                    check)
#   VM_BENCH_SIZE    bytes per direction in the nasd-vs-ksmbd benchmark (default 256M; 0: none)
#   VM_BENCH_ROUNDS  benchmark rounds, each server once per round (default 3); best and
#                    median rounds are both reported
#   VM_BENCH_WARM    MiB written and read, unmeasured, on each fresh mount before its
#                    benchmark run (default 16; 0: none)
#   VM_TIMEOUT       qemu wall-clock limit in seconds (default 600 + 1 per MiB of test files;
#                    the guest prints its summary and powers off 60 s before it)
#   VM_MEM, VM_SMP   guest RAM (MiB, default 2048) and CPUs (default 2)
#   VM_REBUILD=1     rebuild rootfs and modules even if they look current
#   VM_SKIP_DEPS=1   do not run scripts/install-deps.sh --vm
#   NASD_RUST_LOG    RUST_LOG for nasd in the guest (default info; debug logs failed requests)
#   VM_OP_TIMEOUT    seconds one copy, checksum or mount may take in the guest (default 600)
#   VM_TCP_MOUNTS=0  skip the four TCP mounts (while working on SMB Direct)
#   VM_PERF=1        profile the whole guest (perf record -a) during each benchmark run and
#                    print the top symbols by thread to the serial log ("PERF <server> <dir>");
#                    perf's sampling slows both servers, so its ratios are not the benchmark's
#   VM_CIFS_SMBD_LOG the cifs module's smbd_logging_class during the unsigned nasd rdma
#                    mount (e.g. 0xffff: the client's SMB Direct trace in dmesg)
set -euo pipefail
# The whole script is one { ... } block: bash parses it completely before running it, so
# editing this file (or a git checkout) during a 5-minute run cannot change what runs.
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
W=${NASD_VM_DIR:-/var/tmp/nasd-vm}
SHARED=${NASD_VM_SHARED:-$ROOT/tests/vm}
MIB=$((1024 * 1024))
BIG_SIZE=${VM_BIG_SIZE:-$((64 * MIB))}
OTHER_MAX=${VM_OTHER_MAX:-$((64 * MIB))}
RDMA_MAX=${VM_RDMA_MAX:-$((64 * MIB))}
BENCH_SIZE=${VM_BENCH_SIZE:-$((256 * MIB))}
BENCH_ROUNDS=${VM_BENCH_ROUNDS:-3}
BENCH_WARM=${VM_BENCH_WARM:-16}
VM_TIMEOUT=${VM_TIMEOUT:-}
MEM=${VM_MEM:-2048}
SMP=${VM_SMP:-2}
GUEST_INIT=$ROOT/tests/vm/guest-init.sh

die() { echo "vm-test: error: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (sudo scripts/vm-test.sh): it builds a rootfs with mmdebstrap and installs packages"
[ -d "$SHARED" ] && [ -x "$SHARED/build-rootfs.sh" ] && [ -x "$SHARED/build-smbdirect-modules.sh" ] ||
  die "the VM build scripts are missing: expected $SHARED/{build-rootfs.sh,build-smbdirect-modules.sh} (set NASD_VM_SHARED to point elsewhere)"
SHARED=$(cd "$SHARED" && pwd)
[ -f "$GUEST_INIT" ] || die "missing $GUEST_INIT"
# sizes may carry a binary suffix: 64M, 1G
for v in BIG_SIZE OTHER_MAX RDMA_MAX BENCH_SIZE; do
  if [[ ${!v} =~ ^[0-9]+[KMG]$ ]]; then printf -v "$v" '%s' "$(numfmt --from=iec "${!v}")"; fi
done
for v in BIG_SIZE OTHER_MAX RDMA_MAX BENCH_SIZE; do [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be bytes or NNNK/M/G, got '${!v}'"; done
# the unsigned rdma check wants at least RDMA_MAX bytes each way moved by RDMA read/write,
# which only holds when the 64 MiB file is among those the rdma mounts copy
[ "$RDMA_MAX" -ge $((64 * MIB)) ] || die "VM_RDMA_MAX must be at least 64M (the rdma mounts copy every test file up to it and check that much moved by RDMA), got $RDMA_MAX"
# default qemu limit: 10 minutes plus ~1 s per MiB moved (2-3x what emulation needs), the
# benchmark (4 transfers of VM_BENCH_SIZE a round) at ~0.5 s per MiB
[[ $BENCH_ROUNDS =~ ^[1-9][0-9]?$ ]] || die "VM_BENCH_ROUNDS must be 1 to 99, got '$BENCH_ROUNDS'"
[[ $BENCH_WARM =~ ^[0-9]{1,4}$ ]] || die "VM_BENCH_WARM must be MiB (0 to 9999), got '$BENCH_WARM'"
VM_TIMEOUT=${VM_TIMEOUT:-$((600 + (BIG_SIZE + 3 * OTHER_MAX + 4 * RDMA_MAX + 2 * BENCH_ROUNDS * BENCH_SIZE) / MIB))}
for v in VM_TIMEOUT MEM SMP; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, got '${!v}'"
done

mkdir -p "$W"
exec 9>"$W/.lock"
flock -n 9 || die "another vm-test.sh is running on $W"

QPID=""
TAILPID=""
cleanup() {
  local rc=$?
  [ -n "$TAILPID" ] && kill "$TAILPID" 2>/dev/null
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    echo "vm-test: stopping qemu (pid $QPID)" >&2
    kill "$QPID" 2>/dev/null
    wait "$QPID" 2>/dev/null
  fi
  rm -f "$W/rootfs.ext4.tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TIMES=()
T_ALL=$(date +%s)
T_PHASE=$T_ALL
phase_done() { # record how long the phase that just ended took
  local now
  now=$(date +%s)
  TIMES+=("$(printf '%-22s %4ss' "$1" "$((now - T_PHASE))")")
  echo "=== $1: $((now - T_PHASE))s"
  T_PHASE=$now
}
step() { printf '\n=== %s\n' "$*"; }

# ------------------------------------------------------------------ host packages
if [ "${VM_SKIP_DEPS:-0}" != 1 ]; then
  step "dependencies (scripts/install-deps.sh --vm)"
  scripts/install-deps.sh --vm
fi
export PATH="$HOME/.cargo/bin:$PATH"
phase_done deps

# ------------------------------------------------------------------ rootfs, kernel, initrd
step "guest rootfs, kernel, initrd ($W)"
fresh() { # fresh OUTPUT INPUT... : OUTPUT exists and is newer than every INPUT
  local out=$1 in
  shift
  [ -e "$out" ] || return 1
  for in in "$@"; do [ "$out" -nt "$in" ] || return 1; done
}
if [ "${VM_REBUILD:-0}" != 1 ] && fresh "$W/vmlinuz" "$SHARED/build-rootfs.sh" &&
  fresh "$W/initrd.img" "$SHARED/build-rootfs.sh" && [ -e "$W/rootfs/usr/bin/kmod" ] &&
  [ -L "$W/rootfs/usr/sbin/ksmbd.mountd" ] && [ -e "$W/rootfs/usr/sbin/mount.cifs" ]; then
  echo "reusing $W/rootfs (newer than build-rootfs.sh; VM_REBUILD=1 to rebuild)"
else
  W="$W" "$SHARED/build-rootfs.sh" >"$W/build-rootfs.log" 2>&1 ||
    { tail -n 30 "$W/build-rootfs.log"; die "build-rootfs.sh failed (log: $W/build-rootfs.log)"; }
  grep -E '^mmdebstrap:' "$W/build-rootfs.log" || true
  rm -f "$W/rootfs.ext4" # build-rootfs.sh's own image; this script makes nasd-vm.ext4
fi
KVER=$(ls "$W/rootfs/lib/modules" | head -n 1)
[ -n "$KVER" ] || die "no kernel modules in $W/rootfs/lib/modules"
phase_done rootfs

# ------------------------------------------------------------------ SMB Direct modules
step "cifs.ko/ksmbd.ko with SMB Direct for $KVER"
mods_ok() {
  local m
  for m in cifs ksmbd; do
    fresh "$W/smbd-mods/$m.ko" "$SHARED/build-smbdirect-modules.sh" "$W/vmlinuz" || return 1
    # (no `| grep -q` here: with pipefail, strings' SIGPIPE would read as a mismatch)
    [[ $(strings "$W/smbd-mods/$m.ko" | grep '^vermagic=') == "vermagic=$KVER "* ]] || return 1
  done
}
if [ "${VM_REBUILD:-0}" != 1 ] && mods_ok; then
  echo "reusing $W/smbd-mods (built for $KVER)"
else
  W="$W" KVER="$KVER" "$SHARED/build-smbdirect-modules.sh" >"$W/build-modules.log" 2>&1 ||
    { tail -n 30 "$W/build-modules.log"; die "build-smbdirect-modules.sh failed (log: $W/build-modules.log)"; }
  mods_ok || die "build-smbdirect-modules.sh did not produce modules for $KVER (log: $W/build-modules.log)"
  grep -E '^module build' "$W/build-modules.log" || true
fi
phase_done modules

# ------------------------------------------------------------------ nasd
step "nasd release binary"
if [ -n "${NASD_RELEASE_BIN:-}" ]; then
  NASD_BIN=$NASD_RELEASE_BIN
else
  command -v cargo >/dev/null || die "cargo not found (scripts/install-deps.sh installs it)"
  cargo build --release --locked -p nasd
  NASD_BIN=$ROOT/target/release/nasd
fi
[ -x "$NASD_BIN" ] || die "nasd binary not found or not executable: $NASD_BIN"
"$NASD_BIN" --version
phase_done nasd-build

# ------------------------------------------------------------------ image
step "guest image"
G=$W/rootfs/opt/nasd-vm
rm -rf "$G" "$W/rootfs/opt/smbd-mods"
mkdir -p "$G" "$W/rootfs/opt/smbd-mods"
install -m 0755 "$GUEST_INIT" "$G/init"
install -m 0755 "$NASD_BIN" "$W/rootfs/usr/local/sbin/nasd"
cp "$W/smbd-mods/cifs.ko" "$W/smbd-mods/ksmbd.ko" "$W/rootfs/opt/smbd-mods/"
# Shared libraries nasd links that the minimal rootfs lacks (e.g. libssl3): the host is
# Debian 12 like the guest, so copy the host's.
for lib in $(ldd "$NASD_BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
  if [ ! -e "$W/rootfs$lib" ]; then
    echo "adding $lib to the rootfs (nasd needs it)"
    install -D -m 0644 "$(readlink -f "$lib")" "$W/rootfs$lib"
  fi
done
# VM_PERF=1: perf from the Debian 12 packages (the guest's kernel is Debian 12's), unpacked
# under /opt/nasd-vm/perf with its libraries beside it, so the cached rootfs stays as built.
if [ "${VM_PERF:-0}" = 1 ]; then
  PD=$W/perf-debs
  rm -rf "$PD" && mkdir -p "$PD"
  (cd "$PD" && apt-get download -q linux-perf libbabeltrace1 libdw1 libelf1 libnuma1 libopencsd1 \
    libperl5.36 libpython3.11 libpython3.11-stdlib libslang2 libunwind8 libglib2.0-0 libexpat1 \
    libcap2 libstdc++6 2>&1 | { grep -v '^W: Download is performed unsandboxed' || true; }) ||
    die "VM_PERF=1: apt-get download of linux-perf and its libraries failed"
  for deb in "$PD"/*.deb; do dpkg-deb -x "$deb" "$G/perf"; done
  [ -x "$G/perf/usr/bin/perf" ] || die "VM_PERF=1: no usr/bin/perf in the linux-perf package"
fi
cat >"$G/vm-test.env" <<EOF
BIG_SIZE=$BIG_SIZE
OTHER_MAX=$OTHER_MAX
RDMA_MAX=$RDMA_MAX
BENCH_SIZE=$BENCH_SIZE
BENCH_ROUNDS=$BENCH_ROUNDS
BENCH_WARM_MIB=$BENCH_WARM
GUEST_TIMEOUT=$((VM_TIMEOUT - 60))
NASD_RUST_LOG=${NASD_RUST_LOG:-info}
OP_TIMEOUT=${VM_OP_TIMEOUT:-600}
TCP_MOUNTS=${VM_TCP_MOUNTS:-1}
CIFS_SMBD_LOG=${VM_CIFS_SMBD_LOG:-}
NASD_RDMA_SIGNED=${VM_NASD_RDMA_SIGNED:-1}
KSMBD_SIGNED=${VM_KSMBD_SIGNED:-1}
PERF=${VM_PERF:-0}
EOF
# Room for the rootfs, the sources and the server's copies of the largest file (sparse).
DISK_MB=$(((1536 * MIB + 3 * BIG_SIZE + 3 * RDMA_MAX + 2 * BENCH_SIZE) / MIB))
rm -f "$W/rootfs.ext4.tmp"
mkfs.ext4 -q -F -L vmroot -d "$W/rootfs" "$W/rootfs.ext4.tmp" "${DISK_MB}M"
mv "$W/rootfs.ext4.tmp" "$W/nasd-vm.ext4"
echo "$W/nasd-vm.ext4: ${DISK_MB} MiB (sparse), $(du -h "$W/nasd-vm.ext4" | cut -f1) used"
phase_done image

# ------------------------------------------------------------------ boot
step "boot the guest (qemu TCG, ${SMP} CPUs, ${MEM} MiB, limit ${VM_TIMEOUT}s); serial log: $W/serial.log"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing (scripts/install-deps.sh --vm)"
LOG=$W/serial.log
rm -f "$LOG" "$W/serial.raw"
: >"$W/serial.raw" # before tail starts: it must not replay the previous run's log
# The only NIC is virtio-net on qemu hub 0 with no other port (no user networking, no tap):
# whatever the guest sends goes nowhere. /dev/kvm here does not work with qemu: TCG.
timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$MEM" -smp "$SMP" \
  -nographic -no-reboot \
  -kernel "$W/vmlinuz" -initrd "$W/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rw init=/opt/nasd-vm/init panic=-1 oops=panic loglevel=4 net.ifnames=0" \
  -drive file="$W/nasd-vm.ext4",format=raw,if=virtio,cache=unsafe \
  -netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0 \
  </dev/null >"$W/serial.raw" 2>&1 &
QPID=$!
# progress on the terminal: the guest's "### " lines
tail -n +1 -F --pid="$QPID" "$W/serial.raw" 2>/dev/null | tr -d '\r' | grep --line-buffered -E '^### |Kernel panic|BUG:|Oops' &
TAILPID=$!
set +e
wait "$QPID"
QRC=$?
set -e
QPID=""
sleep 1
kill "$TAILPID" 2>/dev/null || true
TAILPID=""
tr -d '\r' <"$W/serial.raw" >"$LOG"
phase_done "qemu (boot+tests)"
[ "$QRC" = 124 ] && echo "vm-test: qemu hit the ${VM_TIMEOUT}s limit" >&2

# ------------------------------------------------------------------ verdict
SUMMARY=$(sed -n '/^### SUMMARY$/,/^### END$/p' "$LOG")
printf '\n=== guest summary\n%s\n' "${SUMMARY:-(none)}"
printf '\n=== host phases\n'
printf '%s\n' "${TIMES[@]}"
echo "total                  $(($(date +%s) - T_ALL))s"
if [ -z "$SUMMARY" ] || ! grep -q '^### END$' <<<"$SUMMARY"; then
  echo "--- last 40 lines of $LOG"
  tail -n 40 "$LOG"
  die "no complete SUMMARY in the serial log (qemu exit $QRC): the guest crashed or hung; see $LOG"
fi
if grep -q '^FAIL' <<<"$SUMMARY"; then
  die "$(grep -c '^FAIL' <<<"$SUMMARY") FAIL line(s); full serial log: $LOG"
fi
grep -q '^PASS' <<<"$SUMMARY" || die "no PASS line in the summary"
echo "vm-test: OK ($(grep -c '^PASS' <<<"$SUMMARY") PASS, 0 FAIL; serial log: $LOG)"
exit 0
}
