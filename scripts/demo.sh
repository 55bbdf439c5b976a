#!/usr/bin/env bash
# Demo: builds everything, starts `stockbelld demo` in the background — the daemon fed
# over its real gRPC API by a built-in simulated shop (data in ./demo-data, log in
# demo-data/stockbelld.log) — and opens the operator console on it. Quitting the console
# stops the demo; running it again continues the same shop.
#
#   make demo                     console in this terminal
#   DEMO_SECONDS=60 make demo     headless: run 60 s, print a summary, stop (CI smoke test)
#   PRODUCTS=3000 CUSTOMERS=20000 RATE=1000 SEED=42 make demo    size and pace of the shop
#   DEMO_DATA=/path make demo     another data directory (rm -rf it to start afresh)
#
# Without a console binary or a terminal it prints a status summary every 10 s instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! cargo build --release --workspace --bins; then
  echo "demo: the workspace did not build; building the daemon and load tool only" >&2
  cargo build --release -p stockbelld -p stockbell-benches --bins
fi
bin="${CARGO_TARGET_DIR:-target}/release"

data="${DEMO_DATA:-$PWD/demo-data}"
mkdir -p "$data"
ready="$data/ready"
log="$data/stockbelld.log"
rm -f "$ready"
echo "--- stockbelld demo starting $(date -u +%FT%TZ)" >>"$log"
NO_COLOR=1 "$bin/stockbelld" demo --data-dir "$data" --ready-file "$ready" \
  --products "${PRODUCTS:-3000}" --customers "${CUSTOMERS:-20000}" \
  --rate "${RATE:-1000}" --seed "${SEED:-42}" >>"$log" 2>&1 &
daemon=$!

# Stops the demo (SIGTERM: the shop stops, the daemon flushes) and returns its status.
stop_demo() {
  local rc=0
  if kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon" 2>/dev/null || true
    wait "$daemon" || rc=$?
  fi
  return "$rc"
}
trap 'stop_demo || true' EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 600); do
  [ -s "$ready" ] && break
  if ! kill -0 "$daemon" 2>/dev/null; then
    echo "stockbelld demo exited before it was ready; the end of $log:" >&2
    tail -n 15 "$log" >&2
    exit 1
  fi
  sleep 0.1
done
[ -s "$ready" ] || { echo "stockbelld demo was not ready within 60 s; see $log" >&2; exit 1; }
addr="http://$(cat "$ready")"

status() {
  "$bin/stockbelld" demo-status --addr "$addr" --data-dir "$data" || true
  if [ -x "$bin/stockbell-load" ]; then
    echo "latest triggers:"
    "$bin/stockbell-load" triggers --addr "$addr" --limit "${1:-10}" || true
  fi
}

if [ -n "${DEMO_SECONDS:-}" ]; then
  echo "stockbelld demo on $addr: running headless for ${DEMO_SECONDS} s (log: $log)"
  end=$((SECONDS + DEMO_SECONDS))
  while [ "$SECONDS" -lt "$end" ]; do
    kill -0 "$daemon" 2>/dev/null || { echo "stockbelld demo stopped early; see $log" >&2; exit 1; }
    sleep 1
  done
  status 10
  trap - EXIT
  if stop_demo; then
    echo "demo stopped cleanly; data kept in $data (make demo continues it)"
  else
    rc=$?
    echo "stockbelld demo exited with status $rc on SIGTERM; see $log" >&2
    exit "$rc"
  fi
elif [ -x "$bin/stockbell-console" ] && [ -t 0 ] && [ -t 1 ]; then
  "$bin/stockbell-console" --addr "$addr" --log-file "$data/stockbell-console.log"
  echo "stopping the demo (data kept in $data; make demo continues it)"
else
  [ -x "$bin/stockbell-console" ] || echo "stockbell-console is not built; printing a summary every 10 s instead."
  echo "stockbelld demo on $addr (log: $log); Ctrl-C stops it."
  while kill -0 "$daemon" 2>/dev/null; do
    sleep 10
    status 5
    echo
  done
fi
