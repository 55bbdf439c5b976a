#!/usr/bin/env bash
# `make deb`: builds the Debian package of stockbell with cargo-deb (installed at a pinned
# version when missing) from a release build of the workspace, runs lintian on it
# (installed when missing; overrides with their reasons in deploy/debian/lintian-overrides)
# and prints the .deb's path as its last line. Logs go to stderr.
#   DEB_VERSION=V   package version V instead of Cargo's (e.g. an upgrade test's build)
#   LINTIAN=0       skip lintian
# The .deb lands in $CARGO_TARGET_DIR/debian/ (cargo-deb honours CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

bash scripts/setup.sh >&2

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "deb: installing cargo-deb $CARGO_DEB_VERSION" >&2
  start=$(date +%s)
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" >&2
  echo "deb: cargo-deb installed in $(($(date +%s) - start)) s" >&2
fi
# dpkg-shlibdeps computes the $auto dependencies; lintian checks the result.
need=()
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
if [ "${LINTIAN:-1}" != 0 ] && ! command -v lintian >/dev/null 2>&1; then need+=(lintian); fi
if [ ${#need[@]} -gt 0 ]; then
  echo "deb: installing ${need[*]}" >&2
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

# cargo-deb builds only the stockbelld crate; stockbell-console comes from the tui crate.
cargo build --release --workspace --bins >&2
args=(-p stockbelld --no-build)
[ -z "${DEB_VERSION:-}" ] || args+=(--deb-version "$DEB_VERSION")
deb=$(cargo deb "${args[@]}" | tail -n 1)
[ -f "$deb" ] || { echo "deb: cargo deb printed no package path (got: $deb)" >&2; exit 1; }

if [ "${LINTIAN:-1}" != 0 ]; then
  # Clean means no error and no warning; info tags are shown, not fatal.
  echo "deb: lintian $deb" >&2
  lintian --fail-on error,warning --display-info "$deb" >&2
  echo "deb: lintian clean" >&2
fi
echo "$deb"
