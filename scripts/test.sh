#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit/property tests and the integration tests
# against real stockbelld processes. Everything builds in release (one RocksDB build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo fmt --all -- --check
cargo build --release --workspace --bins
cargo clippy --release --workspace --all-targets -- -D warnings
cargo test --release --workspace
