#!/usr/bin/env bash
# Demo: builds everything, starts stockbelld with its built-in defaults on 127.0.0.1
# (data in ./demo-data), streams a simulated shop's catalogue, stock, sales and price
# changes into it with stockbell-load, prints the triggers it fired, and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --workspace --bins
bin="${CARGO_TARGET_DIR:-target}/release"

data="$PWD/demo-data"
mkdir -p "$data"
ready="$data/ready"
rm -f "$ready"
"$bin/stockbelld" run --listen 127.0.0.1:0 --data-dir "$data/db" --ready-file "$ready" 2>"$data/stockbelld.log" &
daemon=$!
trap 'kill -TERM $daemon 2>/dev/null; wait $daemon 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do [ -s "$ready" ] && break; sleep 0.1; done
[ -s "$ready" ] || { echo "stockbelld did not start; see $data/stockbelld.log" >&2; exit 1; }
addr="http://$(cat "$ready")"
echo "stockbelld is listening on $addr (log: $data/stockbelld.log)"

"$bin/stockbell-load" run --addr "$addr" --products "${PRODUCTS:-5000}" --events "${EVENTS:-200000}" --batch 500
"$bin/stockbell-load" triggers --addr "$addr" --limit 15
