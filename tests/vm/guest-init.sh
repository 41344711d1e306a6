#!/bin/bash
# PID 1 of the nasd VM test guest (booted by scripts/vm-test.sh with init=/opt/nasd-vm/init).
#
# Runs nasd inside the guest, mounts it with the Linux kernel SMB client (cifs) over TCP
# (SMB 3.1.1 signed, 3.1.1 sealed, 3.0 signed, 3.0 sealed), writes and reads back files with
# sha256 checks, exercises directories; then mounts nasd over SMB Direct (soft-RoCE,
# `-o rdma`) twice: signing required (data in SMBD messages) and not required (data by
# RDMA read/write, proven by nasd's own counters from `nasd status`); then benchmarks nasd
# against ksmbd rebuilt with SMB Direct on the same rdma mount. Results go to the serial console:
#   "### [uptime] PASS|FAIL ..." as they happen, then a block
#   "### SUMMARY" ... "### END", which the host script parses. Then the VM powers off.
#
# The guest's only NIC is on an isolated qemu hub: nothing it sends leaves the VM; the
# address below exists only inside the guest.
# No `set -e`: PID 1 must always reach the summary and the power-off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LC_ALL=C
CONF=/opt/nasd-vm/vm-test.env
# Defaults; the host overrides them in $CONF.
IP=192.0.2.10
BIG_SIZE=$((64 * 1024 * 1024))   # largest file on the main (3.1.1 signed) mount
OTHER_MAX=$((64 * 1024 * 1024))  # largest file on the other TCP variants
RDMA_MAX=$((64 * 1024 * 1024))   # largest file on the rdma mounts
BENCH_SIZE=$((256 * 1024 * 1024)) # bytes per direction in the nasd-vs-ksmbd benchmark (0: none)
BENCH_ROUNDS=3                   # benchmark rounds (each server once per round)
BENCH_WARM_MIB=16                # unmeasured warm-up written and read before each run
GUEST_TIMEOUT=840                # guest watchdog (s): summary + power-off before the host kills qemu
OP_TIMEOUT=600                   # per dd/sha256sum/mount command
[ -f "$CONF" ] && . "$CONF"

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -o remount,rw /
hostname nasd-vm

ts() { cut -d' ' -f1 /proc/uptime; }
step() { echo "### [$(ts)s] $*"; }
RES=/tmp/summary
: >"$RES"
ok() { echo "PASS $*" >>"$RES"; step "PASS $*"; }
ko() { echo "FAIL $*" >>"$RES"; step "FAIL $*"; }
# phase timing: "TIME <name> <seconds>" lines in the summary
PHASE=boot
PHASE_T0=0
phase() {
  local now
  now=$(ts)
  [ "$PHASE" != boot ] && echo "TIME $PHASE $(awk -v a="$PHASE_T0" -v b="$now" 'BEGIN{printf "%.1f", b-a}')s" >>"$RES"
  PHASE=$1
  PHASE_T0=$now
  echo "$1" >/tmp/phase
  [ "$1" != end ] && step "=== phase: $1"
}
FINISHED=0
finish() {
  [ "$FINISHED" = 1 ] && return
  FINISHED=1
  phase end
  step "dmesg (warnings and errors, last 40)"
  dmesg --level=emerg,alert,crit,err,warn 2>/dev/null | grep -v 'speed is unknown' | tail -n 40
  echo "### SUMMARY"
  cat "$RES"
  echo "TIME guest-total $(ts)s"
  echo "### END"
  sync
  echo o >/proc/sysrq-trigger
  sleep 30
}

# seconds between two /proc/uptime readings, and a MB/s figure
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
mbps() { awk -v n="$1" -v s="$2" 'BEGIN{ if (s <= 0) s = 0.01; printf "%.1f", n / 1e6 / s }'; }
human() {
  awk -v n="$1" 'BEGIN{ if (n >= 1073741824 && n % 1073741824 == 0) printf "%dGiB", n/1073741824;
    else if (n >= 1048576 && n % 1048576 == 0) printf "%dMiB", n/1048576;
    else if (n >= 1048576) printf "%dMiB+%d", int(n/1048576), n%1048576;
    else if (n >= 1024 && n % 1024 == 0) printf "%dKiB", n/1024; else printf "%dB", n }'
}

step "nasd VM test: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB"
# Guest watchdog: if anything hangs, still print the summary and power off.
(
  sleep "$GUEST_TIMEOUT"
  echo "FAIL guest watchdog: still in phase '$(cat /tmp/phase)' after ${GUEST_TIMEOUT}s" >>"$RES"
  step "FAIL guest watchdog fired in phase $(cat /tmp/phase)"
  ps -eo pid,stat,wchan:32,args | grep -v '\[' | tail -n 30
  echo "### SUMMARY"; cat "$RES"; echo "### END"; sync
  echo o >/proc/sysrq-trigger
) &

# ------------------------------------------------------------------ network + soft-RoCE
phase net-rxe
modprobe virtio_net
ip link set lo up
ip link set eth0 up
ip addr add "$IP/24" dev eth0
modprobe -a rdma_rxe ib_uverbs rdma_ucm ib_umad
if rdma link add rxe0 type rxe netdev eth0 2>&1 || echo eth0 >/sys/module/rdma_rxe/parameters/add; then :; fi
if ibv_devinfo -d rxe0 2>/dev/null | grep -q PORT_ACTIVE; then
  ok "soft-RoCE: rxe0 on eth0 ($IP) PORT_ACTIVE"
else
  ko "soft-RoCE: rxe0 not active"; rdma link show 2>&1
fi

# ------------------------------------------------------------------ test data
# Sizes: 0 B, 1 B, 4 KiB, 1 MiB + 7, 64 MiB, BIG_SIZE, RDMA_MAX. Sources live on the guest's disk
# (not tmpfs) so a 1 GiB file does not eat the guest's RAM.
phase gen-data
SIZES="0 1 4096 $((1024 * 1024 + 7)) $((64 * 1024 * 1024))"
[ "$BIG_SIZE" -gt $((64 * 1024 * 1024)) ] && SIZES="$SIZES $BIG_SIZE"
[ "$RDMA_MAX" -gt $((64 * 1024 * 1024)) ] && [ "$RDMA_MAX" != "$BIG_SIZE" ] && SIZES="$SIZES $RDMA_MAX"
SRC=/var/tmp/vmtest-src
rm -rf "$SRC"
mkdir -p "$SRC"
for s in $SIZES; do
  t0=$(ts)
  head -c "$s" /dev/urandom >"$SRC/$s"
  sha256sum <"$SRC/$s" | cut -d' ' -f1 >"$SRC/$s.sha"
  step "source $(human "$s"): $(cat "$SRC/$s.sha") ($(dt "$t0" "$(ts)")s)"
done
sync

# ------------------------------------------------------------------ workload
# workload LABEL MNT SRVDIR MAXSIZE : write each source file through the mount (cp for the
# small ones, dd bs=1M conv=fsync for the rest), check the server's copy on its disk, drop
# the page cache, read it back through the mount; sha256 must match at every step.
workload() {
  local label=$1 mnt=$2 srv=$3 max=$4 s name want got t0 t1 t2 wr rd h
  for s in $SIZES; do
    [ "$s" -gt "$max" ] && continue
    h=$(human "$s")
    name="file-$h"
    want=$(cat "$SRC/$s.sha")
    t0=$(ts)
    if [ "$s" -le 4096 ]; then
      timeout "$OP_TIMEOUT" cp "$SRC/$s" "$mnt/$name" && sync "$mnt/$name"
    else
      timeout "$OP_TIMEOUT" dd if="$SRC/$s" of="$mnt/$name" bs=1M conv=fsync status=none
    fi
    wr=$?
    t1=$(ts)
    if [ "$wr" != 0 ]; then ko "$label: write $h (rc=$wr)"; continue; fi
    got=$(sha256sum <"$srv/$name" 2>/dev/null | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then ko "$label: write $h: server's copy differs (sha256 $got)"; continue; fi
    sync
    echo 3 >/proc/sys/vm/drop_caches
    t1=$(ts)
    got=$(timeout "$OP_TIMEOUT" dd if="$mnt/$name" bs=1M status=none | sha256sum | cut -d' ' -f1)
    rd=${PIPESTATUS[0]}
    t2=$(ts)
    if [ "$got" != "$want" ]; then ko "$label: read back $h: sha256 mismatch (rc=$rd, got $got)"; continue; fi
    if [ "$(stat -c %s "$mnt/$name")" != "$s" ]; then ko "$label: $h: size on the mount is $(stat -c %s "$mnt/$name")"; continue; fi
    if [ "$s" -ge 1048576 ]; then
      ok "$label: $h written and read back, sha256 ok (write $(mbps "$s" "$(dt "$t0" "$t1")") MB/s, read $(mbps "$s" "$(dt "$t1" "$t2")") MB/s)"
    else
      ok "$label: $h written and read back, sha256 ok"
    fi
    rm -f "$mnt/$name"
  done
}

# dirops LABEL MNT SRVDIR : mkdir -p, files in directories, ls, mv of a directory and of a
# file, rmdir of a non-empty directory refused, rm -r; each checked on the mount and on the
# server's disk.
dirops() {
  local label=$1 mnt=$2 srv=$3 d n i err=""
  d="$mnt/dirtest"
  rm -rf "$d" 2>/dev/null
  mkdir "$d" && mkdir -p "$d/a/b/c" || err="mkdir"
  if [ -z "$err" ]; then
    for i in $(seq 1 20); do echo "file $i" >"$d/a/f$i" || err="create a/f$i"; done
  fi
  if [ -z "$err" ]; then
    n=$(ls "$d/a" | wc -l)
    [ "$n" = 21 ] || err="ls a: $n entries, want 21"
  fi
  [ -z "$err" ] && { [ -d "$srv/dirtest/a/b/c" ] || err="a/b/c missing on the server"; }
  [ -z "$err" ] && { mv "$d/a" "$d/renamed" || err="mv a renamed"; }
  [ -z "$err" ] && { [ ! -e "$d/a" ] && [ -d "$d/renamed/b/c" ] && [ "$(cat "$d/renamed/f7")" = "file 7" ] || err="after mv: old name still there or content lost"; }
  [ -z "$err" ] && { [ -d "$srv/dirtest/renamed/b/c" ] && [ ! -e "$srv/dirtest/a" ] || err="after mv: server's disk disagrees"; }
  [ -z "$err" ] && { mv "$d/renamed/f1" "$d/renamed/b/c/moved" && [ "$(cat "$d/renamed/b/c/moved")" = "file 1" ] && [ ! -e "$d/renamed/f1" ] || err="mv file into subdirectory"; }
  [ -z "$err" ] && { [ "$(ls "$d/renamed" | sort | head -n 1)" = b ] && [ "$(ls "$d/renamed" | wc -l)" = 20 ] || err="ls renamed: $(ls "$d/renamed" | wc -l) entries, want 20"; }
  [ -z "$err" ] && { rmdir "$d/renamed/b" 2>/dev/null && err="rmdir of a non-empty directory succeeded"; }
  [ -z "$err" ] && { rm -r "$d" || err="rm -r"; }
  [ -z "$err" ] && { [ ! -e "$d" ] && [ ! -e "$srv/dirtest" ] && [ -z "$(ls "$mnt")" ] || err="after rm -r: still there ($(ls "$mnt" | tr '\n' ' '))"; }
  if [ -z "$err" ]; then ok "$label: mkdir/ls/mv/rmdir/rm -r of directories"; else ko "$label: directories: $err"; fi
}

# ------------------------------------------------------------------ nasd
phase nasd-start
DB=/tmp/nasd/nasd.db
USER_NAME=vmtest
PASS_WORD=vmtest-Passw0rd
mkdir -p /tmp/nasd /srv/data
NASD_OK=0
if nasd --db "$DB" share add data /srv/data --create >/tmp/nasd/cli.log 2>&1 &&
  echo "$PASS_WORD" | nasd --db "$DB" user add "$USER_NAME" --password-stdin >>/tmp/nasd/cli.log 2>&1; then
  # The whole log goes to /tmp/nasd/serve.log; warnings, errors and failed READ/WRITE/FLUSH
  # also to the console at once (a guest that oopses keeps no file).
  NO_COLOR=1 RUST_LOG=${NASD_RUST_LOG:-info} nasd --db "$DB" serve --listen 0.0.0.0:445 \
    > >(tee /tmp/nasd/serve.log | grep --line-buffered -E ' (WARN|ERROR) |SMB Direct (connection|message)|command=(READ|WRITE|FLUSH) ' | cut -c1-400 >/dev/console) 2>&1 &
  NASD_PID=$!
  for i in $(seq 1 60); do
    (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null && { NASD_OK=1; break; }
    kill -0 "$NASD_PID" 2>/dev/null || break
    sleep 0.5
  done
fi
if [ "$NASD_OK" = 1 ]; then
  ok "nasd serving on 0.0.0.0:445 ($(nasd --version 2>&1))"
else
  ko "nasd did not start"; cat /tmp/nasd/cli.log; tail -n 40 /tmp/nasd/serve.log
fi
grep -iE 'rdma|rxe|eth0' /tmp/nasd/serve.log | head -n 5

MNT=/mnt/nasd
mkdir -p "$MNT"
OPTS="username=$USER_NAME,password=$PASS_WORD"
# nasd_tcp LABEL MOUNTOPTS MAXSIZE : one mount variant against nasd over TCP
nasd_tcp() {
  local label=$1 mo=$2 max=$3 out
  phase "$label"
  if out=$(timeout "$OP_TIMEOUT" mount -t cifs "//$IP/data" "$MNT" -o "$mo,$OPTS" 2>&1); then
    ok "$label: mount -t cifs -o $mo"
    grep -E 'Dialect|Security type|SessionId|Encrypted|TCP status' /proc/fs/cifs/DebugData 2>/dev/null | head -n 8 | sed 's/^/    /'
    # what the client says it negotiated: the dialect, and signing or encryption
    local dbg dialect prot want_dialect
    case "$mo" in vers=3.1.1*) want_dialect=0x311 ;; vers=3.02*) want_dialect=0x302 ;; vers=3.0*) want_dialect=0x300 ;; *) want_dialect=? ;; esac
    dbg=$(cat /proc/fs/cifs/DebugData 2>/dev/null)
    dialect=$(echo "$dbg" | grep -o 'Dialect 0x[0-9a-f]*' | head -n 1 | cut -d' ' -f2)
    case "$mo" in
      *seal*) echo "$dbg" | grep -q ' Encrypted' && prot=encrypted || prot="NOT encrypted" ;;
      # "Dialect 0x311 signed": signing in use on the connection (server->sign); the
      # session line's " signed" only reflects the client's own "sign" mount option
      *) echo "$dbg" | grep -qE 'Dialect 0x[0-9a-f]+.* signed' && prot=signed || prot="NOT signed" ;;
    esac
    if [ "$dialect" = "$want_dialect" ] && [ "${prot#NOT}" = "$prot" ]; then
      ok "$label: client reports dialect $dialect, session $prot"
    else
      ko "$label: client reports dialect ${dialect:-?} (want $want_dialect), session $prot"
    fi
    workload "$label" "$MNT" /srv/data "$max"
    dirops "$label" "$MNT" /srv/data
    umount "$MNT" || { ko "$label: umount"; umount -l "$MNT"; }
  else
    ko "$label: mount -o $mo: $out"
    dmesg | tail -n 15
    tail -n 20 /tmp/nasd/serve.log
  fi
}

if [ "$NASD_OK" = 1 ] && [ "${TCP_MOUNTS:-1}" = 1 ]; then
  # Debian's stock cifs.ko: what a Linux client really runs.
  modprobe cifs
  nasd_tcp "nasd tcp 3.1.1" "vers=3.1.1" "$BIG_SIZE"
  nasd_tcp "nasd tcp 3.1.1 seal" "vers=3.1.1,seal" "$OTHER_MAX"
  nasd_tcp "nasd tcp 3.0" "vers=3.0" "$OTHER_MAX"
  nasd_tcp "nasd tcp 3.0 seal" "vers=3.0,seal" "$OTHER_MAX"
fi

# ------------------------------------------------------------------ rebuilt cifs.ko (SMB Direct)
phase smbdirect-modules
HAVE_MODS=0
if [ -f /opt/smbd-mods/cifs.ko ] && [ -f /opt/smbd-mods/ksmbd.ko ]; then
  rmmod cifs 2>/dev/null
  for m in ib_core rdma_cm cifs_arc4 cifs_md4 fscache dns_resolver netfs nls_ucs2_utils; do modprobe "$m" 2>/dev/null; done
  if insmod /opt/smbd-mods/cifs.ko 2>&1 && insmod /opt/smbd-mods/ksmbd.ko 2>&1; then
    HAVE_MODS=1
    ok "rebuilt cifs.ko and ksmbd.ko with SMB Direct loaded"
  else
    ko "insmod of the rebuilt cifs.ko/ksmbd.ko failed"; dmesg | tail -n 10
  fi
else
  ko "no rebuilt SMB Direct modules in /opt/smbd-mods"
fi

# rdma_mount LABEL SHARE SRVDIR MAXSIZE OPTS [CHECK] : mount -o rdma, run the workload and
# the directory operations, then CHECK (a function, while still mounted), unmount; returns 1
# if the mount failed
rdma_mount() {
  local label=$1 share=$2 srv=$3 max=$4 opts=$5 check=${6:-} out
  if out=$(timeout -k 10 120 mount -t cifs "//$IP/$share" "$MNT" -o "rdma,vers=3.1.1,$opts" 2>&1); then
    if grep -qiE 'SMBDirect|RDMA transport' /proc/fs/cifs/DebugData || dmesg | grep -q 'RDMA transport established'; then
      ok "$label: mount -o rdma,vers=3.1.1 (DebugData shows SMBDirect)"
    else
      ko "$label: mounted with -o rdma but DebugData shows no SMBDirect"
    fi
    grep -iE -A3 'SMBDirect' /proc/fs/cifs/DebugData | head -n 8 | sed 's/^/    /'
    local fails
    fails=$(grep -c '^FAIL' "$RES")
    workload "$label" "$MNT" "$srv" "$max"
    dirops "$label" "$MNT" "$srv"
    [ -n "$check" ] && "$check" "$label"
    if [ "$(grep -c '^FAIL' "$RES")" != "$fails" ]; then
      step "$label failed: client's view (dmesg, last 25)"
      dmesg | grep -iE 'cifs|smbd|rdma|rxe' | tail -n 25
      if [ -f /tmp/nasd/serve.log ] && [ "$share" = data ]; then
        step "$label failed: nasd's log (last 40)"
        tail -n 40 /tmp/nasd/serve.log
      fi
    fi
    umount "$MNT" || { ko "$label: umount"; umount -l "$MNT"; }
    return 0
  fi
  RDMA_ERR=$(echo "$out" | head -n 1)
  return 1
}

# nasd's own view: `nasd status --json`, summed over its connections (only SMB Direct
# connections carry these counters)
nasd_counter() {
  nasd --db "$DB" status --json 2>/dev/null | grep -o "\"$1\": [0-9]*" | awk '{s += $2} END {print s + 0}'
}
nasd_smbd_status() {
  sleep 2 # the status file is rewritten every second
  nasd --db "$DB" status | sed 's/^/    /'
  SMBD_CONNS=$(nasd --db "$DB" status --json | grep -c '"transport": "smbdirect"')
  SENDS=$(nasd_counter sends) RECVS=$(nasd_counter recvs)
  RREAD=$(nasd_counter rdma_read_bytes) RWRITE=$(nasd_counter rdma_write_bytes)
  COPIED=$(nasd_counter copied_bytes)
}
# signing required: the Linux client moves data in SMBD send/receive messages only
check_signed() {
  nasd_smbd_status
  local signed=no
  grep -qE 'Dialect 0x[0-9a-f]+.* signed' /proc/fs/cifs/DebugData && signed=yes
  if [ "$SMBD_CONNS" -ge 1 ] && [ "$signed" = yes ] && [ "$RECVS" -gt 1000 ] && [ "$SENDS" -gt 1000 ]; then
    ok "$1: signed session; nasd counts $SMBD_CONNS SMB Direct connection(s), $RECVS receives, $SENDS sends (RDMA read $RREAD B, write $RWRITE B)"
  else
    ko "$1: want a signed session over SMB Direct: client signed=$signed, nasd smbdirect connections=$SMBD_CONNS receives=$RECVS sends=$SENDS"
  fi
}
# signing off: READ and WRITE data must move by RDMA write and RDMA read
check_rdma_rw() {
  nasd_smbd_status
  if [ "$SMBD_CONNS" -ge 1 ] && [ "$RREAD" -ge "$RDMA_MAX" ] && [ "$RWRITE" -ge "$RDMA_MAX" ]; then
    ok "$1: nasd moved WRITE data by RDMA read ($RREAD B) and READ data by RDMA write ($RWRITE B)"
  else
    ko "$1: nasd's counters show RDMA read $RREAD B, RDMA write $RWRITE B over $SMBD_CONNS SMB Direct connection(s); want at least $RDMA_MAX each"
  fi
  # in place: RDMA read into registered memory the file is written from, the file read into
  # registered memory the RDMA write sends from (a copy only when the data pool is full)
  if [ $((RREAD + RWRITE)) -gt 0 ] && [ $((COPIED * 10)) -le $((RREAD + RWRITE)) ]; then
    ok "$1: nasd copied $COPIED B of that in user space (the rest went in place)"
  else
    ko "$1: nasd copied $COPIED B of $((RREAD + RWRITE)) B RDMA data in user space; want at most a tenth"
  fi
}

# bench LABEL SHARE OPTS PIDS... : sequential write then read of BENCH_SIZE in 1 MiB blocks
# with direct I/O over a fresh rdma mount; MB/s, and CPU seconds per GiB: the server
# process's own (nasd; ksmbd works in kernel threads and workqueues, so "-") and the whole
# guest's (client, rxe and server together: the same client work for both servers).
cpu_ticks() { awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat; }
proc_ticks() { [ -n "$1" ] && awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
proc_user_sys() { [ -n "$1" ] && awk '{print "user " $14 " sys " $15 " ticks"}' "/proc/$1/stat" 2>/dev/null; }
# With PERF=1 (VM_PERF=1 on the host): a whole-guest profile of each benchmark run, its
# top symbols by thread and the share of each thread, in the serial log.
PERF_BIN=/opt/nasd-vm/perf/usr/bin/perf
PERF_PID=
PERF_LIBS=/opt/nasd-vm/perf/usr/lib/x86_64-linux-gnu:/opt/nasd-vm/perf/lib/x86_64-linux-gnu
perf_run() { LD_LIBRARY_PATH=$PERF_LIBS "$PERF_BIN" "$@"; }
perf_start() {
  [ "${PERF:-0}" = 1 ] && [ -x "$PERF_BIN" ] || return 0
  PERF_DATA=/tmp/perf.$1
  # perf itself in the background (not a function's subshell), so that $! is perf and it
  # gets the SIGINT that ends the recording
  LD_LIBRARY_PATH=$PERF_LIBS "$PERF_BIN" record -a -F 250 -q -o "$PERF_DATA" >/dev/null 2>&1 &
  PERF_PID=$!
}
perf_report() {
  [ -n "$PERF_PID" ] || return 0
  kill -INT "$PERF_PID"; wait "$PERF_PID"; PERF_PID=
  echo "PERF $1: by thread"
  perf_run report -i "$PERF_DATA" --stdio --sort comm 2>/dev/null | grep -vE '^(#|$)' | head -n 12
  echo "PERF $1: by thread and symbol"
  perf_run report -i "$PERF_DATA" --stdio --sort comm,dso,sym 2>/dev/null | grep -vE '^(#|$)' | head -n 40
  rm -f "$PERF_DATA"
}
bench() {
  local label=$1 share=$2 opts=$3 pid=${4:-} hz n w t0 t1 c0 c1 p0 p1 out
  hz=$(getconf CLK_TCK)
  n=$((BENCH_SIZE / 1048576))
  if ! out=$(timeout -k 10 120 mount -t cifs "//$IP/$share" "$MNT" -o "rdma,vers=3.1.1,$opts" 2>&1); then
    ko "bench $label: mount: $out"; return
  fi
  # Unmeasured warm-up, the same transfers on a small file: each measured run then comes
  # right after one of the same server (see docs/testing.md, "Order matters").
  w=$((n < BENCH_WARM_MIB ? n : BENCH_WARM_MIB))
  if [ "$w" -gt 0 ]; then
    timeout "$OP_TIMEOUT" dd if=/dev/zero of="$MNT/warm.bin" bs=1M count="$w" oflag=direct status=none &&
      timeout "$OP_TIMEOUT" dd if="$MNT/warm.bin" of=/dev/null bs=1M count="$w" iflag=direct status=none ||
      ko "bench $label: warm-up failed"
    rm -f "$MNT/warm.bin"
  fi
  sync; echo 3 >/proc/sys/vm/drop_caches
  for dir in write read; do
    perf_start "$label.$dir"
    c0=$(cpu_ticks) p0=$(proc_ticks "$pid") t0=$(ts)
    if [ $dir = write ]; then
      timeout "$OP_TIMEOUT" dd if=/dev/zero of="$MNT/bench.bin" bs=1M count="$n" oflag=direct status=none
    else
      timeout "$OP_TIMEOUT" dd if="$MNT/bench.bin" of=/dev/null bs=1M count="$n" iflag=direct status=none
    fi
    rc=$?
    t1=$(ts) c1=$(cpu_ticks) p1=$(proc_ticks "$pid")
    perf_report "$label $dir"
    [ $rc = 0 ] || { ko "bench $label: dd $dir rc=$rc"; continue; }
    local secs mb sys srv
    secs=$(dt "$t0" "$t1")
    mb=$(mbps "$BENCH_SIZE" "$secs")
    sys=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v b="$BENCH_SIZE" 'BEGIN{printf "%.1f", c / hz / (b / 1073741824)}')
    if [ -n "$pid" ]; then
      srv=$(awk -v c=$((p1 - p0)) -v hz="$hz" -v b="$BENCH_SIZE" 'BEGIN{printf "%.1f", c / hz / (b / 1073741824)}')
    else
      srv=-
    fi
    echo "BENCH $label $dir $mb $sys $srv" >>"$RES"
    [ -n "$pid" ] && step "bench $label $dir: server process so far: $(proc_user_sys "$pid")"
    step "bench $label $dir: $mb MB/s, guest CPU $sys s/GiB, server process CPU $srv s/GiB"
  done
  rm -f "$MNT/bench.bin"
  umount "$MNT" || umount -l "$MNT"
}

if [ "$HAVE_MODS" = 1 ] && [ "$NASD_OK" = 1 ] && [ "${NASD_RDMA_SIGNED:-1}" = 1 ]; then
  phase "nasd rdma signed"
  nasd --db "$DB" setting set signing_required true >/dev/null && kill -HUP "$NASD_PID" && sleep 1
  dmesg -C
  if ! rdma_mount "nasd rdma 3.1.1 signed" data /srv/data "$RDMA_MAX" "$OPTS" check_signed; then
    ko "nasd rdma 3.1.1 signed: mount -o rdma failed: $RDMA_ERR; client: $(dmesg | grep -iE 'rdma|smbd|CIFS: VFS' | tail -n 3 | sed 's/^\[[ 0-9.]*\] //' | tr '\n' ' ')"
    tail -n 20 /tmp/nasd/serve.log
  fi
fi
if [ "$HAVE_MODS" = 1 ] && [ "$NASD_OK" = 1 ]; then
  phase "nasd rdma unsigned"
  nasd --db "$DB" setting set signing_required false >/dev/null && kill -HUP "$NASD_PID" && sleep 1
  dmesg -C
  if [ -n "${CIFS_SMBD_LOG:-}" ]; then # the client's SMB Direct trace, for debugging
    echo "$CIFS_SMBD_LOG" >/sys/module/cifs/parameters/smbd_logging_class
    echo 1 >/sys/module/cifs/parameters/smbd_logging_level
  fi
  if ! rdma_mount "nasd rdma 3.1.1" data /srv/data "$RDMA_MAX" "$OPTS" check_rdma_rw; then
    ko "nasd rdma 3.1.1: mount -o rdma failed: $RDMA_ERR; client: $(dmesg | grep -iE 'rdma|smbd|CIFS: VFS' | tail -n 3 | sed 's/^\[[ 0-9.]*\] //' | tr '\n' ' ')"
    tail -n 20 /tmp/nasd/serve.log
  fi
fi

# ------------------------------------------------------------------ stop nasd
if [ "$NASD_OK" = 1 ]; then
  phase nasd-stop
  if kill -0 "$NASD_PID" 2>/dev/null; then
    ok "nasd still running after all mounts (no crash)"
    kill -TERM "$NASD_PID"
    for i in $(seq 1 40); do kill -0 "$NASD_PID" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$NASD_PID" 2>/dev/null; then
      ko "nasd did not exit within 20s of SIGTERM"; kill -KILL "$NASD_PID"
    else
      wait "$NASD_PID"; rc=$?
      if [ "$rc" = 0 ]; then ok "nasd exited 0 on SIGTERM"; else ko "nasd exited $rc on SIGTERM"; fi
    fi
  else
    wait "$NASD_PID"; ko "nasd died during the tests (exit $?)"
  fi
  if grep -qiE 'panick|panicked' /tmp/nasd/serve.log; then ko "nasd log shows a panic"; grep -iE -A5 'panick' /tmp/nasd/serve.log | head -n 20; fi
  step "nasd log (warnings and errors, last 20)"
  grep -E ' (WARN|ERROR) ' /tmp/nasd/serve.log | tail -n 20
fi

# ------------------------------------------------------------------ ksmbd over SMB Direct
# The reference: ksmbd rebuilt with SMB Direct serves the same guest; a working rdma mount
# of it proves rxe + the rebuilt cifs client's SMB Direct path work in this guest.
if [ "$HAVE_MODS" = 1 ]; then
  phase "ksmbd rdma"
  mkdir -p /srv/ksmbd /etc/ksmbd
  chmod 1777 /srv/ksmbd # the SMB user has no local uid: ksmbd accesses files as nobody
  cat >/etc/ksmbd/ksmbd.conf <<'EOF'
[global]
	server min protocol = SMB3
[share]
	path = /srv/ksmbd
	read only = no
EOF
  ksmbd.adduser -a tester -p testpass >/dev/null 2>&1
  if [ "${KSMBD_SIGNED:-0}" = 1 ]; then
    # the Linux client's signed SMB Direct path against the reference server
    phase "ksmbd rdma signed"
    sed -i 's/^\[global\]$/[global]\n\tserver signing = mandatory/' /etc/ksmbd/ksmbd.conf
    ksmbd.mountd -n >/tmp/ksmbd-mountd.log 2>&1 &
    sleep 3
    dmesg -C
    rdma_mount "ksmbd rdma 3.1.1 signed" share /srv/ksmbd "$RDMA_MAX" "username=tester,password=testpass" ||
      ko "ksmbd rdma 3.1.1 signed: mount -o rdma failed: $RDMA_ERR"
    ksmbd.control -s >/dev/null 2>&1
    sleep 2
    sed -i '/server signing = mandatory/d' /etc/ksmbd/ksmbd.conf
    phase "ksmbd rdma"
  fi
  ksmbd.mountd -n >/tmp/ksmbd-mountd.log 2>&1 &
  sleep 3
  dmesg -C
  if ! rdma_mount "ksmbd rdma 3.1.1" share /srv/ksmbd "$RDMA_MAX" "username=tester,password=testpass"; then
    ko "ksmbd rdma 3.1.1: mount -o rdma failed: $RDMA_ERR"
    dmesg | tail -n 20
    tail -n 20 /tmp/ksmbd-mountd.log
  fi
  ksmbd.control -s >/dev/null 2>&1
fi

# ------------------------------------------------------------------ benchmark
# nasd and ksmbd take turns (both want port 445), BENCH_ROUNDS rounds each, so that a slow
# moment of the emulation hits both alike; which goes first alternates from round to round.
# Each server's best round and its median round are compared, and each round's pair.
# Signing off on both.
if [ "$BENCH_SIZE" -gt 0 ] && [ "$HAVE_MODS" = 1 ] && [ "$NASD_OK" = 1 ]; then
  bench_nasd() {
    touch /tmp/nasd/bench.log
    local listening pid i
    listening=$(grep -c 'SMB Direct listening' /tmp/nasd/bench.log)
    NO_COLOR=1 RUST_LOG=warn,smb_server::direct=info nasd --db "$DB" serve --listen 0.0.0.0:445 >>/tmp/nasd/bench.log 2>&1 &
    pid=$!
    # its SMB Direct listener comes up after TCP, on its own thread: wait for that one
    for i in $(seq 1 60); do
      [ "$(grep -c 'SMB Direct listening' /tmp/nasd/bench.log)" -gt "$listening" ] && break
      sleep 0.5
    done
    bench nasd data "$OPTS" "$pid"
    kill -TERM "$pid"; wait "$pid"
    sleep 2
  }
  bench_ksmbd() {
    ksmbd.mountd -n >>/tmp/ksmbd-mountd.log 2>&1 &
    sleep 3
    bench ksmbd share "username=tester,password=testpass"
    ksmbd.control -s >/dev/null 2>&1
    sleep 2
  }
  for round in $(seq 1 "$BENCH_ROUNDS"); do
    phase "bench round $round"
    if [ $((round % 2)) = 1 ]; then bench_nasd; bench_ksmbd; else bench_ksmbd; bench_nasd; fi
  done
  # nasd / ksmbd: MB/s (higher is better) and whole-guest CPU per GiB (lower is better),
  # each server's best round.
  for dir in write read; do
    awk -v d=$dir '$1 == "BENCH" && $3 == d && $4 > mb[$2] { mb[$2] = $4; cpu[$2] = $5 }
      END { if (mb["ksmbd"] > 0 && cpu["nasd"] > 0)
        printf "RATIO %s MB/s nasd %s ksmbd %s = %.2f; guest CPU s/GiB nasd %s ksmbd %s = %.2f (ksmbd/nasd, >1 means nasd cheaper)\n",
          d, mb["nasd"], mb["ksmbd"], mb["nasd"] / mb["ksmbd"], cpu["nasd"], cpu["ksmbd"], cpu["ksmbd"] / cpu["nasd"] }' "$RES" >>"$RES"
  done
  # the same with each server's median round (MB/s and CPU medians taken separately)
  # median SERVER DIR FIELD: the median of one BENCH column (4: MB/s, 5: guest CPU)
  median() {
    awk -v s="$1" -v d="$2" -v f="$3" '$1 == "BENCH" && $2 == s && $3 == d {print $f}' "$RES" | sort -n |
      awk '{v[NR] = $1} END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  }
  for dir in write read; do
    nm=$(median nasd $dir 4) km=$(median ksmbd $dir 4) nc=$(median nasd $dir 5) kc=$(median ksmbd $dir 5)
    awk -v d=$dir -v r="$BENCH_ROUNDS" -v nm="$nm" -v km="$km" -v nc="$nc" -v kc="$kc" 'BEGIN { if (km > 0 && nc > 0)
      printf "RATIO-MEDIAN %s (%d rounds) MB/s nasd %s ksmbd %s = %.2f; guest CPU s/GiB nasd %s ksmbd %s = %.2f (ksmbd/nasd)\n",
        d, r, nm, km, nm / km, nc, kc, kc / nc }' >>"$RES"
  done
  # round by round (the two ran back to back): nasd/ksmbd MB/s of each round, their median,
  # and how many rounds nasd was at least as fast
  for dir in write read; do
    awk -v d=$dir '$1 == "BENCH" && $3 == d { v[$2, ++n[$2]] = $4 }
      END { k = n["nasd"] < n["ksmbd"] ? n["nasd"] : n["ksmbd"]; m = 0; won = 0; list = ""
        for (i = 1; i <= k; i++) {
          if (v["ksmbd", i] <= 0) continue
          r[++m] = v["nasd", i] / v["ksmbd", i]; list = list sprintf(" %.2f", r[m])
          if (r[m] >= 1) won++
        }
        if (m == 0) exit
        for (i = 2; i <= m; i++) { x = r[i]; for (j = i - 1; j > 0 && r[j] > x; j--) r[j + 1] = r[j]; r[j + 1] = x }
        med = (m % 2) ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2
        printf "RATIO-PAIRED %s MB/s nasd/ksmbd by round:%s; median %.2f; nasd at least as fast in %d of %d\n", d, list, med, won, m }' "$RES" >>"$RES"
  done
  grep '^RATIO' "$RES" | while read -r l; do step "$l"; done
fi

finish
