#!/usr/bin/env bash
# Start (or stop) a private Samba smbd on 127.0.0.1 as the comparison peer for tests and
# benchmarks. Everything lives under $PEER_ROOT; /etc/samba and systemd are not touched.
#   scripts/samba-peer.sh start SHARE_DIR PORT USER PASSWORD   → prints the smbd pid
#   scripts/samba-peer.sh stop
set -euo pipefail
ROOT=${PEER_ROOT:-/var/tmp/nasd-samba-peer}
cmd=${1:?start|stop}
stop() {
  if [ -f "$ROOT/pid/smbd.pid" ]; then
    kill "$(cat "$ROOT/pid/smbd.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$ROOT/pid/smbd.pid" ] && kill -0 "$(cat "$ROOT/pid/smbd.pid")" 2>/dev/null || break; sleep 0.1; done
    rm -f "$ROOT/pid/smbd.pid"
  fi
}
if [ "$cmd" = stop ]; then stop; exit 0; fi
SHARE=${2:?share dir} PORT=${3:?port} USER_=${4:?user} PASS_=${5:?password}
stop
rm -rf "$ROOT"
mkdir -p "$ROOT"/{lock,state,cache,private,pid,log,ncalrpc} "$SHARE"
chmod 0700 "$ROOT/private"
id "$USER_" >/dev/null 2>&1 || useradd -M -N -s /usr/sbin/nologin "$USER_"
chmod 0777 "$SHARE"
cat >"$ROOT/smb.conf" <<CONF
[global]
  netbios name = SAMBAPEER
  workgroup = WORKGROUP
  server role = standalone server
  security = user
  map to guest = never
  passdb backend = tdbsam:$ROOT/private/passdb.tdb
  interfaces = 127.0.0.1
  bind interfaces only = yes
  smb ports = $PORT
  disable netbios = yes
  lock directory = $ROOT/lock
  state directory = $ROOT/state
  cache directory = $ROOT/cache
  private dir = $ROOT/private
  pid directory = $ROOT/pid
  ncalrpc dir = $ROOT/ncalrpc
  log file = $ROOT/log/log.%m
  log level = 0
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  server signing = ${PEER_SIGNING:-mandatory}
  kernel oplocks = no
  kernel share modes = no
  posix locking = no
  vfs objects = acl_xattr streams_xattr
  ea support = yes
  store dos attributes = yes
${PEER_EXTRA:-}
[data]
  path = $SHARE
  read only = no
  guest ok = no
  valid users = $USER_
  create mask = 0777
  directory mask = 0777
CONF
printf '%s\n%s\n' "$PASS_" "$PASS_" | smbpasswd -c "$ROOT/smb.conf" -s -a "$USER_" >/dev/null
smbd -D -s "$ROOT/smb.conf"
for _ in $(seq 100); do
  if [ -f "$ROOT/pid/smbd.pid" ] && ss -Hltn "sport = :$PORT" | grep -q .; then
    cat "$ROOT/pid/smbd.pid"; exit 0
  fi
  sleep 0.1
done
echo "smbd did not start; see $ROOT/log" >&2
exit 1
