# The two commands of the README. Both install what they need on a fresh machine.
.PHONY: demo test bench bench-fanout bench-smtp bench-orders bench-rss bench-console bench-sustained bench-interest bench-order-ingest deb

# Build everything, run `stockbelld demo` (daemon + simulated shop) and open the console.
# DEMO_SECONDS=N: headless for N seconds, then a summary (CI smoke test).
demo:
	bash scripts/demo.sh

# The Debian package (cargo-deb, lintian): prints the .deb's path (README "Installing from
# the Debian package"). DEB_VERSION=V overrides the version.
deb:
	bash scripts/deb.sh

# Formatting, lints, unit, property and integration tests.
test:
	bash scripts/test.sh

# The ingest benchmark of BENCHMARKS.md (daemon vs no-op sink, one run).
bench:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load compare --products 100000 --batch 500 --events 1000000

# The delivery benchmarks of BENCHMARKS.md (issue 3). Each starts its own daemon on
# 127.0.0.1 with a temporary data directory and prints its numbers (last line: JSON).
# One restock to 100,000 interested customers, timed until all decisions are in the outbox.
bench-fanout:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load restock-fanout --customers 100000

# Installs the postfix package for its two test tools (smtp-sink, smtp-source) if they are
# missing, answering "No configuration" so that no mail server is set up or started.
POSTFIX_TOOLS = if [ ! -x /usr/sbin/smtp-sink ] || [ ! -x /usr/sbin/smtp-source ]; then \
	  echo "$@: installing postfix (for smtp-sink and smtp-source only)"; \
	  s=""; [ "$$(id -u)" -eq 0 ] || s=sudo; \
	  echo "postfix postfix/main_mailer_type select No configuration" | $$s debconf-set-selections; \
	  $$s apt-get update -qq; \
	  $$s env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	fi

# SMTP delivery rate into Postfix's smtp-sink, next to Postfix's smtp-source.
bench-smtp:
	bash scripts/setup.sh
	@$(POSTFIX_TOOLS)
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load smtp-rate --messages 20000 --concurrency 8

# The order benchmarks of BENCHMARKS.md (issue 9), one run each: a restock covering 10,000
# waiting order lines, timed until all are allocated and their "arrived" messages are in
# the outbox; and a shipping notice's way into smtp-sink while 50,000 back-in-stock
# messages are being delivered there (installs postfix's tools like bench-smtp).
bench-orders:
	bash scripts/setup.sh
	@$(POSTFIX_TOOLS)
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load backorder-arrival --lines 10000
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load shipping-latency --queued 50000

# Peak RSS with 1,000,000 customers and 10,000,000 interest edges, then a burst of
# restocks reaching about 100,000 customers. With its defaults (actors.max_active 50000)
# the daemon peaked at 1.9 GiB here (BENCHMARKS.md).
bench-rss:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load interest-rss --customers 1000000 --edges 10000000

# Disk and memory under sustained ingest (issue 8): full-speed load on 100,000 products for
# SECONDS_LOAD seconds (default 240), then the data directory (WAL and SST), RSS, and the time from
# kill -9 to ready. Own daemon on 127.0.0.1, temporary data directory, stops by itself.
# DAEMON_BIN=/path/to/stockbelld measures another build (e.g. a baseline).
bench-sustained:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load sustained --seconds $${SECONDS_LOAD:-240} \
	  $${DAEMON_BIN:+--daemon-bin $$DAEMON_BIN}

# Ingest rate of 1,000,000 interest events (favourite, view, cart_add, notify_me) from
# 100,000 known customers (issue 10). Own daemon on 127.0.0.1, temporary data directory.
# DAEMON_BIN=/path/to/stockbelld measures another build (e.g. a baseline).
bench-interest:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load interest-ingest --customers 100000 \
	  --products 100000 --events 1000000 $${DAEMON_BIN:+--daemon-bin $$DAEMON_BIN}

# Ingest rate of 200,000 order events (order_placed, 10% order_refunded) from 10,000 known
# customers on 1,000 products (issue 11: the cost of the customer aggregates). Own daemon on
# 127.0.0.1, temporary data directory. DAEMON_BIN=/path/to/stockbelld measures another build.
bench-order-ingest:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	$${CARGO_TARGET_DIR:-target}/release/stockbell-load order-ingest --customers 10000 \
	  --products 1000 --events 200000 $${DAEMON_BIN:+--daemon-bin $$DAEMON_BIN}

# The console under load: its CPU use, frames per second and input latency while the
# daemon ingests at full speed from stockbell-load (tmux, loopback, stops by itself).
bench-console:
	bash scripts/setup.sh
	cargo build --release --workspace --bins
	bash scripts/console-load.sh
