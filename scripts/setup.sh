#!/usr/bin/env bash
# Installs what building stockbell needs on a fresh Debian/Ubuntu machine: a C/C++
# toolchain and libclang (RocksDB is built from source; bindgen needs libclang), and
# for the integration tests Python 3 with aiosmtpd (the SMTP server they send mail to),
# dkimpy + pynacl (the DKIM test's verifier), tmux (the console test) and systemd-analyze (the systemd unit's security rating).
# Idempotent: does nothing when everything is there.
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# openssl: the TLS and DKIM tests make keys with it.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# systemd-analyze: the test that rates deploy/stockbelld.service's sandbox.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || python3 -c "import aiosmtpd" >/dev/null 2>&1 || need+=(python3-pip)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
  echo "setup: installing aiosmtpd (Python SMTP server for the integration tests)"
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  # A Debian-managed Python refuses plain installs (PEP 668); fall back to the override.
  python3 -m pip install --quiet aiosmtpd 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages aiosmtpd
  python3 -c "import aiosmtpd" || { echo "setup: aiosmtpd did not install" >&2; exit 1; }
fi

if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  echo "setup: installing prometheus_client (parses /metrics in the integration tests)"
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  python3 -m pip install --quiet prometheus_client 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages prometheus_client
  python3 -c "import prometheus_client" || { echo "setup: prometheus_client did not install" >&2; exit 1; }
fi

if ! python3 -c "import dkim, nacl" >/dev/null 2>&1; then
  echo "setup: installing dkimpy and pynacl (the DKIM test's independent verifier; pynacl for Ed25519)"
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  python3 -m pip install --quiet dkimpy pynacl 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages dkimpy pynacl
  python3 -c "import dkim, nacl" || { echo "setup: dkimpy / pynacl did not install" >&2; exit 1; }
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust (https://rustup.rs) first" >&2; exit 1; }
