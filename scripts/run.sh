#!/usr/bin/env bash
# Install what is needed, build nasd, seed the embedded default configuration (a SQLite
# database with a demo user and a demo share) and start the appliance in the foreground.
#   NASD_LISTEN   SMB listen address (default 0.0.0.0:445)
#   NASD_DB       database file      (default /var/lib/nasd/nasd.db)
#   NASD_DEMO_DIR demo share folder  (default /srv/nas/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p nasd
DB=${NASD_DB:-/var/lib/nasd/nasd.db}
mkdir -p "$(dirname "$DB")"
./target/release/nasd --db "$DB" demo --dir "${NASD_DEMO_DIR:-/srv/nas/demo}"
LISTEN=${NASD_LISTEN:-0.0.0.0:445}
echo "nasd: serving SMB on $LISTEN (Ctrl-C stops it)" >&2
exec ./target/release/nasd --db "$DB" serve --listen "$LISTEN"
