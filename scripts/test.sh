#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/property tests and the integration tests
# against real stockbelld processes. Everything builds in release (one RocksDB build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo fmt --all -- --check
cargo build --release --workspace --bins
cargo clippy --release --workspace --all-targets -- -D warnings
log=$(mktemp)
deb_log=$(mktemp)
trap 'rm -f "$log" "$deb_log"' EXIT
set +e
cargo test --release --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The Debian package: built, installed, started, upgraded and purged on this machine (as
# root; skipped otherwise). Its checks count in the closing line below.
bash scripts/deb-test.sh 2>&1 | tee "$deb_log"
deb_status=${PIPESTATUS[0]}
set -e
[ "$status" -ne 0 ] || status=$deb_status
# One closing line for the whole suite (cargo prints one per test binary).
passed=$(grep -Eo '^test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
deb_counts=$(sed -nE 's/^deb-test: ([0-9]+) passed, ([0-9]+) failed$/\1 \2/p' "$deb_log" | tail -n 1)
read -r deb_passed deb_failed <<<"${deb_counts:-0 0}"
# A deb-test that died before its summary still counts as one failure.
[ "$deb_status" -eq 0 ] || [ "$deb_failed" -gt 0 ] || deb_failed=1
passed=$((passed + deb_passed))
failed=$((failed + deb_failed))
echo "stockbell: $passed passed, $failed failed"
exit "$status"
