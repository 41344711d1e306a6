#!/usr/bin/env bash
# Benchmark: nasd and Samba's smbd side by side on this machine, loopback, the same
# filesystem (one tmp dir each on the same disk), the same clients and the same protection
# on both (SMB 3.1.1, signing required, no encryption; ENCRYPT=1 encrypts both).
#   smbclient put / get of a SIZE_MIB (2048) MiB file  → MiB/s
#   N_FILES (10000) create+close, then a listing, via Python smbprotocol → ops/s
#   peak RSS of each server during the run
# Prints a table of both and the ratio nasd/smbd per line. Usage: bench/run.sh
set -euo pipefail
trap 'echo "bench/run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-2048}
N_FILES=${N_FILES:-10000}
RUNS=${RUNS:-3}
VENV=${NASD_VENV:-/var/tmp/nasd-venv}
PY=$VENV/bin/python
USER_=bench PASS_=Bench-pass-1
W=${BENCH_DIR:-/var/tmp/nasd-bench}
export PEER_ROOT=$W/peer   # a private Samba instance, separate from the tests'
scripts/install-deps.sh --test >/dev/null
export PATH="$HOME/.cargo/bin:$PATH"
[ -n "${NASD_RELEASE_BIN:-}" ] || cargo build --release --locked -p nasd >/dev/null
rm -rf "$W"; mkdir -p "$W"/{nasd,samba,src}
NASD=${NASD_RELEASE_BIN:-./target/release/nasd}
SRC=/dev/shm/nasd-bench-src.bin
head -c $((SIZE_MIB << 20)) /dev/urandom >"$SRC"
trap 'rm -f "$SRC"; scripts/samba-peer.sh stop >/dev/null 2>&1 || true; [ -n "${NPID:-}" ] && kill $NPID 2>/dev/null || true' EXIT

prot=sign; [ "${ENCRYPT:-0}" = 1 ] && prot=encrypt
# nasd
DB=$W/nasd.db
"$NASD" --db "$DB" user add $USER_ --password-stdin <<<"$PASS_" >/dev/null
"$NASD" --db "$DB" share add data "$W/nasd/data" --create >/dev/null
NPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
RUST_LOG=warn "$NASD" --db "$DB" serve --listen 127.0.0.1:$NPORT 2>"$W/nasd.log" &
NPID=$!
# samba
SPORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
SPID=$(PEER_SIGNING=mandatory scripts/samba-peer.sh start "$W/samba/data" $SPORT $USER_ $PASS_)
sleep 1

# Peak resident memory of a server and all its children (Samba forks one per client),
# sampled every 100 ms while the measurements run; MiB.
sample_rss() { # pid outfile
  local max=0 total p v
  while kill -0 "$1" 2>/dev/null; do
    total=0
    for p in $1 $(pgrep -P "$1" 2>/dev/null); do
      v=$(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null); total=$((total + ${v:-0}))
    done
    [ $total -gt $max ] && max=$total && echo $((max / 1024)) >"$2"
    sleep 0.1
  done
}

declare -A R
measure() { # name port
  local name=$1 port=$2 best_put=0 best_get=0
  for i in $(seq "$RUNS"); do
    out=$(smbclient //127.0.0.1/data -p "$port" -U "$USER_%$PASS_" -m SMB3_11 --client-protection=$prot \
          -c "put $SRC big.bin; get big.bin /dev/null; del big.bin" 2>&1)
    put=$(echo "$out" | grep -m1 'putting file' | sed -E 's/.*\(([0-9.]+) kb\/s\).*/\1/')
    get=$(echo "$out" | grep -m1 'getting file' | sed -E 's/.*\(([0-9.]+) KiloBytes\/sec\).*/\1/')
    put=${put:-0}; get=${get:-0}
    best_put=$(python3 -c "print(max($best_put, $put/1024))"); best_get=$(python3 -c "print(max($best_get, $get/1024))")
  done
  R[$name.put]=$best_put; R[$name.get]=$best_get
  m=$("$PY" bench/meta.py 127.0.0.1 "$port" data $USER_ "$PASS_" meta "$N_FILES")
  R[$name.create]=$(python3 -c "import json;print(json.loads('$m')['create_per_s'])")
  R[$name.list]=$(python3 -c "import json;print(json.loads('$m')['list_per_s'])")
}
sample_rss $NPID "$W/nasd.rss" & S1=$!
measure nasd $NPORT
kill $S1 2>/dev/null || true
sample_rss $SPID "$W/smbd.rss" & S2=$!
measure smbd $SPORT
kill $S2 2>/dev/null || true
R[nasd.rss]=$(cat "$W/nasd.rss"); R[smbd.rss]=$(cat "$W/smbd.rss")

printf '\nSMB 3.1.1, protection=%s, %d MiB file, %d files, best of %d runs, loopback, %s\n' "$prot" "$SIZE_MIB" "$N_FILES" "$RUNS" "$(date -u +%F)"
printf '%-28s %12s %12s %8s\n' metric nasd smbd ratio
row() { python3 -c "n=$2;s=$3;print('%-28s %12.1f %12.1f %8.2f' % ('$1', n, s, (n/s if s else 0)))"; }
row "put MiB/s" "${R[nasd.put]}" "${R[smbd.put]}"
row "get MiB/s" "${R[nasd.get]}" "${R[smbd.get]}"
row "create+close ops/s" "${R[nasd.create]}" "${R[smbd.create]}"
row "list entries/s" "${R[nasd.list]}" "${R[smbd.list]}"
row "peak RSS MiB (lower=better)" "${R[nasd.rss]}" "${R[smbd.rss]}"
