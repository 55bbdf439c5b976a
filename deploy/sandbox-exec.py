#!/usr/bin/python3
"""Runs a command under the seccomp part of a systemd unit's sandbox, without systemd.

    deploy/sandbox-exec.py deploy/stockbelld.service -- stockbelld run --config ...

Applies what the unit's SystemCallFilter= (groups resolved by `systemd-analyze
syscall-filter`), SystemCallErrorNumber=, RestrictAddressFamilies=,
MemoryDenyWriteExecute= and UMask= would, then execs the command. It is how the
integration tests were run against the hardened unit's system call filter on a machine
without systemd as init (see README, "Running it"):

    printf '#!/bin/sh\\nexec %s/deploy/sandbox-exec.py %s/deploy/stockbelld.service -- %s "$@"\\n' \\
        "$PWD" "$PWD" "$CARGO_TARGET_DIR/release/stockbelld" > /tmp/stockbelld-sandboxed
    chmod +x /tmp/stockbelld-sandboxed
    STOCKBELLD_BIN=/tmp/stockbelld-sandboxed \\
    STOCKBELL_CONSOLE_BIN="$CARGO_TARGET_DIR/release/stockbell-console" \\
        cargo test --release -p stockbell-tests --no-fail-fast

To see what the filter refuses, run it under `strace -f -Z` (failed calls only) and look
for EPERM. Needs the libseccomp Python binding (Debian: python3-seccomp).
"""

import errno
import os
import socket
import subprocess
import sys

import seccomp


def unit_settings(path):
    """The [Service] settings, in order, as (key, value) pairs."""
    settings, section = [], None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "Service" and "=" in line:
                key, value = line.split("=", 1)
                settings.append((key.strip(), value.strip()))
    return settings


def expand(names, seen=None):
    """System call names, with @groups resolved the way systemd resolves them."""
    seen = set() if seen is None else seen
    out = set()
    for name in names:
        if not name.startswith("@"):
            out.add(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name],
            check=True, capture_output=True, text=True,
        ).stdout.splitlines()[1:]
        members = [l.strip() for l in listing if l.strip() and not l.strip().startswith("#")]
        out |= expand(members, seen)
    return out


def allowed_calls(settings):
    allow, deny = None, set()
    for key, value in settings:
        if key != "SystemCallFilter":
            continue
        if value.startswith("~"):
            deny |= expand(value[1:].split())
        elif allow is None:
            allow = expand(value.split())
        else:
            allow |= expand(value.split())
    if allow is None:
        sys.exit("the unit has no allow-list SystemCallFilter=")
    return allow - deny


def build_filter(settings):
    values = dict(settings)
    err = getattr(errno, values.get("SystemCallErrorNumber", "EPERM"))
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(err))
    # Calls allowed only with some arguments: socket(2) for the unit's address families;
    # with MemoryDenyWriteExecute, no mapping both writable and executable, and no
    # mprotect(2) that adds execute.
    conditional = {}
    if "RestrictAddressFamilies" in values:
        families = [getattr(socket, a) for a in values["RestrictAddressFamilies"].split()]
        conditional["socket"] = [[seccomp.Arg(0, seccomp.EQ, a)] for a in families]
    if values.get("MemoryDenyWriteExecute") in ("yes", "true", "1"):
        w, x = 0x2, 0x4  # PROT_WRITE, PROT_EXEC
        conditional["mmap"] = [[seccomp.Arg(2, seccomp.MASKED_EQ, w | x, v)] for v in (0, w, x)]
        for call in ("mprotect", "pkey_mprotect"):
            conditional[call] = [[seccomp.Arg(2, seccomp.MASKED_EQ, x, 0)]]
    for name in sorted(allowed_calls(settings)):
        try:
            for args in conditional.get(name, [[]]):
                f.add_rule(seccomp.ALLOW, name, *args)
        except (RuntimeError, ValueError, OSError):
            pass  # not a system call on this architecture
    return f, values


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    settings = unit_settings(sys.argv[1])
    f, values = build_filter(settings)
    if "UMask" in values:
        os.umask(int(values["UMask"], 8))
    f.load()  # sets no_new_privs too
    os.execvp(sys.argv[3], sys.argv[3:])


if __name__ == "__main__":
    main()
