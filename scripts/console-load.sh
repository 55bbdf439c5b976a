#!/usr/bin/env bash
# The console under load: stockbelld ingests at full speed from stockbell-load while
# stockbell-console runs in a real terminal (tmux, 160x48) on the overview. Reports the
# console's CPU use (from /proc, user+system), its frames per second (its --frames-log),
# and input latency (key press -> the new view on screen, as tmux sees it). Loopback
# only; everything stops by itself. Run: make bench-console
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release"
EVENTS="${EVENTS:-2000000}"
PRODUCTS="${PRODUCTS:-100000}"

work=$(mktemp -d)
session="stockbell-console-load-$$"
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  [ -n "${daemon:-}" ] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

printf '[http]\nlisten = "127.0.0.1:0"\n[email]\neml_dir = "%s/eml"\n' "$work" >"$work/stockbelld.toml"
"$bin/stockbelld" run --config "$work/stockbelld.toml" --listen 127.0.0.1:0 \
  --data-dir "$work/db" --ready-file "$work/ready" 2>"$work/stockbelld.log" &
daemon=$!
for _ in $(seq 1 300); do [ -s "$work/ready" ] && break; sleep 0.1; done
addr=$(cat "$work/ready")

tmux new-session -d -s "$session" -x 160 -y 48 \
  "exec $bin/stockbell-console --addr $addr --log-file $work/console.log --frames-log"
for _ in $(seq 1 100); do tmux capture-pane -p -t "$session" | grep -q "● connected" && break; sleep 0.1; done
console=$(tmux display-message -p -t "$session" '#{pane_pid}')

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Idle baseline: 5 s with nothing happening.
t0=$(ticks "$console"); sleep 5; t1=$(ticks "$console")
idle=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz / 5 * 100 }')

# Under load.
start=$(date +%s.%N)
t0=$(ticks "$console")
"$bin/stockbell-load" run --addr "http://$addr" --products "$PRODUCTS" --events "$EVENTS" \
  --batch 500 >"$work/load.txt" 2>&1 &
load=$!

# Input latency while loaded: switch views and time until the screen shows it.
sleep 5
lat=()
for i in 1 2 3 4 5 6; do
  if [ $((i % 2)) -eq 1 ]; then key=2; want="scenarios (4)"; else key=1; want="events/s"; fi
  k0=$(date +%s%N)
  tmux send-keys -t "$session" "$key"
  until tmux capture-pane -p -t "$session" | grep -q "$want"; do sleep 0.005; done
  k1=$(date +%s%N)
  lat+=($(( (k1 - k0) / 1000000 )))
  sleep 0.5
done
wait "$load"
t1=$(ticks "$console")
end=$(date +%s.%N)
busy=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$start" -v e="$end" \
  'BEGIN { printf "%.1f", (b - a) / hz / (e - s) * 100 }')
secs=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
frames=$(grep -o 'frames=[0-9]*' "$work/console.log" | tail -n +8 | cut -d= -f2 | sort -n)
fmin=$(echo "$frames" | head -1); fmax=$(echo "$frames" | tail -1)
fmed=$(echo "$frames" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

echo "stockbell-load: $(grep -E 'events/s|ev/s' "$work/load.txt" | head -2 | tr '\n' ' ')"
echo "console CPU: idle ${idle}% of one core; while the daemon ingests ${EVENTS} events (${secs}s): ${busy}% of one core"
echo "console frames per second (one sample per second): min ${fmin} median ${fmed} max ${fmax}"
echo "input latency under load (key -> new view on screen, ms): ${lat[*]}"
tmux send-keys -t "$session" q
