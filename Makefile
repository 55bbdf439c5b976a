# The two commands of the README. Both install what they need on a fresh machine.
.PHONY: demo test bench

# Build everything, run `stockbelld demo` (daemon + simulated shop) and open the console.
# DEMO_SECONDS=N: headless for N seconds, then a summary (CI smoke test).
demo:
	bash scripts/demo.sh

# Formatting, lints, unit, property and integration tests.
test:
	bash scripts/test.sh

# The ingest benchmark of BENCHMARKS.md (daemon vs no-op sink, one run).
bench:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load compare --products 100000 --batch 500 --events 1000000
