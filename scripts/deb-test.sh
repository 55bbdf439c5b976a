#!/usr/bin/env bash
# CI check of the Debian package (issue 12), on this machine itself (as root): builds it
# (`make deb`, lintian included) and a copy with a higher version, then installs, starts,
# upgrades and purges it, checking each step. Idempotent: a stockbell package or test
# daemon left by an earlier run is removed first. Ends with "deb-test: N passed, M failed";
# exits 1 if a check failed. Not root: skipped (it installs a package system-wide).
# STOCKBELL_DEB_TEST=0 skips it too.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

CONF=/etc/stockbell/stockbelld.toml
STATE=/var/lib/stockbell
PIDFILE=/run/stockbell-deb-test.pid
passed=0
failed=0
t0=$(date +%s)
work=$(mktemp -d)
daemon_pid=""

ok() { echo "deb-test: ok   $*"; passed=$((passed + 1)); }
bad() { echo "deb-test: FAIL $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
finish() {
  stop_daemon
  undivert_sysusers
  rm -rf "$work"
  echo "deb-test: took $(($(date +%s) - t0)) s"
  echo "deb-test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

if [ "${STOCKBELL_DEB_TEST:-1}" = 0 ]; then
  echo "deb-test: skipped (STOCKBELL_DEB_TEST=0)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deb-test: skipped: needs root (it installs the package on this machine)"
  exit 0
fi

systemd_pid1=0
[ -d /run/systemd/system ] && systemd_pid1=1

# A test daemon of this script (never any other process) that is still running.
stop_daemon() {
  local pid=$daemon_pid
  [ -n "$pid" ] || { [ -f "$PIDFILE" ] && pid=$(cat "$PIDFILE"); }
  # "/usr/bin/stockbelld (deleted)" once an upgrade replaced the binary.
  if [ -n "$pid" ] && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == /usr/bin/stockbelld* ]]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$PIDFILE"
  daemon_pid=""
}
trap 'bad "interrupted"; finish' INT TERM

SYSUSERS=/usr/bin/systemd-sysusers
diverted=0
# Hides systemd-sysusers (dpkg-divert, so dpkg knows) to exercise postinst's fallback.
divert_sysusers() {
  dpkg-divert --quiet --local --rename --divert "$SYSUSERS.deb-test" --add "$SYSUSERS" && diverted=1
}
undivert_sysusers() {
  if [ "$diverted" = 1 ] || [ -e "$SYSUSERS.deb-test" ]; then
    dpkg-divert --quiet --local --rename --divert "$SYSUSERS.deb-test" --remove "$SYSUSERS"
    diverted=0
  fi
}

# stat in one word: owner:group mode.
perms() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
is() { [ "$1" = "$2" ] || { echo "deb-test:   got '$1', want '$2'"; return 1; }; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
healthz() { curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/healthz" 2>/dev/null | grep -qx ok; }
wait_healthy() {
  for _ in $(seq 1 600); do
    healthz && return 0
    [ -n "$daemon_pid" ] && ! kill -0 "$daemon_pid" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# Starts the daemon as the package's user: through systemd when it is PID 1, else
# directly under setpriv (exec, so $! is the daemon itself) with the installed config.
start_daemon() {
  if [ "$systemd_pid1" = 1 ]; then
    systemctl restart stockbelld.service || return 1
    daemon_pid=$(systemctl show -p MainPID --value stockbelld.service)
  else
    (cd / && exec setpriv --reuid=stockbell --regid=stockbell --init-groups \
      /usr/bin/stockbelld run --config "$CONF") >>"$work/daemon.log" 2>&1 &
    daemon_pid=$!
    echo "$daemon_pid" >"$PIDFILE"
  fi
  wait_healthy
}
stop_started_daemon() {
  if [ "$systemd_pid1" = 1 ]; then
    systemctl stop stockbelld.service
    daemon_pid=""
  else
    local pid=$daemon_pid
    stop_daemon
    ! kill -0 "$pid" 2>/dev/null
  fi
}

echo "deb-test: systemd is PID 1: $([ "$systemd_pid1" = 1 ] && echo yes || echo no)"

# 0. Leftovers of an earlier run.
stop_daemon
undivert_sysusers
if dpkg-query -W -f='${Status}' stockbell 2>/dev/null | grep -qv 'not-installed'; then
  echo "deb-test: purging a stockbell package left installed"
  DEBIAN_FRONTEND=noninteractive dpkg --purge stockbell </dev/null >/dev/null
fi

# 1. Build: the package, then the same build as a higher version for the upgrade.
if ! deb=$(bash scripts/deb.sh 2>"$work/build.log" | tail -n 1) || [ ! -f "$deb" ]; then
  tail -n 40 "$work/build.log"
  bad "make deb builds the package and lintian passes"
  finish
fi
ok "make deb builds $(basename "$deb"), lintian clean"
cp "$deb" "$work/old.deb"
version=$(dpkg-deb -f "$work/old.deb" Version)
new_version="$version+upgradetest1"
if ! deb2=$(DEB_VERSION=$new_version LINTIAN=0 bash scripts/deb.sh 2>>"$work/build.log" | tail -n 1) \
  || [ ! -f "$deb2" ]; then
  tail -n 40 "$work/build.log"
  bad "cargo deb --deb-version $new_version builds the upgrade"
  finish
fi
cp "$deb2" "$work/new.deb"
# cargo-deb removes other versions from target/debian: leave `make deb`'s package there.
rm -f "$deb2"
cp "$work/old.deb" "$deb"
check "upgrade version $new_version sorts after $version" dpkg --compare-versions "$new_version" gt "$version"
contents=$(dpkg-deb -c "$work/old.deb" | awk '{print $1, $2, $6}')
for f in ./usr/bin/stockbelld ./usr/bin/stockbell-console; do
  check "package holds $f (0755 root)" grep -qx -- "-rwxr-xr-x 0/0 $f" <<<"$contents"
done
check "package holds the conffile 0640" grep -qx -- "-rw-r----- 0/0 ./etc/stockbell/stockbelld.toml" <<<"$contents"
check "the conffile is listed in conffiles" grep -qx /etc/stockbell/stockbelld.toml \
  <(dpkg-deb --ctrl-tarfile "$work/old.deb" | tar -xOf - ./conffiles)
check "Depends has libc (\$auto) and adduser" \
  bash -c 'd=$(dpkg-deb -f "$1" Depends); [[ $d == *libc6* && $d == *adduser* ]]' _ "$work/old.deb"
# The packaged unit is deploy/stockbelld.service with package paths and user, nothing else.
check "packaged unit's sandbox is the same as deploy/stockbelld.service's" \
  diff <(sed -n '/^# Privileges/,$p' deploy/stockbelld.service) \
  <(sed -n '/^# Privileges/,$p' deploy/debian/stockbelld.service)
check "packaged changelog's version is the package's ($version)" \
  grep -q "^stockbell ($version) " deploy/debian/changelog

# 2. Install.
if ! DEBIAN_FRONTEND=noninteractive dpkg -i "$work/old.deb" </dev/null >"$work/dpkg.log" 2>&1; then
  cat "$work/dpkg.log"
  bad "dpkg -i installs $version"
  finish
fi
ok "dpkg -i installs $version"
check "user stockbell: system uid, home $STATE, no login" bash -c '
  IFS=: read -r _ _ uid _ _ home shell < <(getent passwd stockbell) &&
  [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/stockbell ] && [[ $shell == */nologin ]]'
check "group stockbell exists" bash -c "getent group stockbell >/dev/null"
check "$STATE is stockbell:stockbell 0750" is "$(perms $STATE)" "stockbell:stockbell 750"
check "$CONF is root:stockbell 0640" is "$(perms $CONF)" "root:stockbell 640"
check "binaries in /usr/bin" test -x /usr/bin/stockbelld -a -x /usr/bin/stockbell-console
check "stockbell-console runs" bash -c "/usr/bin/stockbell-console --help >/dev/null"
check "unit and sysusers file installed" \
  test -f /usr/lib/systemd/system/stockbelld.service -a -f /usr/lib/sysusers.d/stockbell.conf
check "unit enabled (multi-user.target.wants)" \
  test -L /etc/systemd/system/multi-user.target.wants/stockbelld.service
if command -v systemd-analyze >/dev/null; then
  check "installed unit rates <= 2.0 in systemd-analyze security" bash -c '
    s=$(systemd-analyze security --offline=true --no-pager /usr/lib/systemd/system/stockbelld.service 2>&1 |
        sed -n "s/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p")
    echo "deb-test:   exposure $s"; awk -v s="$s" "BEGIN { exit !(s != \"\" && s <= 2.0) }"'
fi
check "stockbelld check-config $CONF passes (root)" bash -c "/usr/bin/stockbelld check-config $CONF >/dev/null"
check "stockbelld check-config $CONF passes (as stockbell: the group may read it)" \
  bash -c "setpriv --reuid=stockbell --regid=stockbell --init-groups /usr/bin/stockbelld check-config $CONF >/dev/null"

# 3. Edit the conffile (free loopback ports, so nothing collides), run as stockbell.
GRPC_PORT=$(free_port)
HTTP_PORT=$(free_port)
sed -i -e "s|^listen = \"127.0.0.1:50051\"|listen = \"127.0.0.1:$GRPC_PORT\"|" \
  -e "s|^listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:$HTTP_PORT\"|" "$CONF"
check "conffile edited (ports $GRPC_PORT, $HTTP_PORT)" \
  bash -c 'grep -q "127.0.0.1:$1\"" "$3" && grep -q "127.0.0.1:$2\"" "$3"' _ "$GRPC_PORT" "$HTTP_PORT" "$CONF"
edited_md5=$(md5sum <"$CONF" | cut -d' ' -f1)
check "daemon starts as stockbell and answers GET /healthz" start_daemon
check "daemon process runs as stockbell" is "$(ps -o user= -p "${daemon_pid:-0}" | tr -d ' ')" stockbell
check "gRPC listens on 127.0.0.1:$GRPC_PORT" bash -c 'ss -Hltn "sport = :$1" | grep -q "127.0.0.1:$1"' _ "$GRPC_PORT"
check "daemon wrote its database into $STATE (owned by stockbell)" \
  bash -c 'f=$(find /var/lib/stockbell -name CURRENT -user stockbell | head -n 1); [ -n "$f" ]'
check "nothing in $STATE belongs to root" bash -c '[ -z "$(find /var/lib/stockbell -user root)" ]'
check "daemon stops on SIGTERM" stop_started_daemon

# 4. Upgrade: dpkg keeps the edited conffile by its own rule (the packaged one did not
# change) without asking; stdin is closed, so a prompt would fail the install.
packaged_md5=$(md5sum <deploy/stockbelld.toml | cut -d' ' -f1)
if DEBIAN_FRONTEND=noninteractive dpkg -i "$work/new.deb" </dev/null >"$work/dpkg.log" 2>&1; then
  ok "dpkg -i upgrades to $new_version without a prompt"
else
  cat "$work/dpkg.log"
  bad "dpkg -i upgrades to $new_version without a prompt"
fi
check "installed version is $new_version" is "$(dpkg-query -W -f='${Version}' stockbell)" "$new_version"
check "edited conffile kept" is "$(md5sum <"$CONF" | cut -d' ' -f1)" "$edited_md5"
check "dpkg's conffile hash is the unchanged packaged one (so it kept the edit itself)" \
  is "$(dpkg-query -W -f='${Conffiles}' stockbell | awk '$1 == "/etc/stockbell/stockbelld.toml" {print $2}')" \
  "$packaged_md5"
check "no .dpkg-dist / .dpkg-new / .dpkg-old beside it" \
  bash -c '! ls /etc/stockbell/*.dpkg-* >/dev/null 2>&1'
check "$CONF still root:stockbell 0640" is "$(perms $CONF)" "root:stockbell 640"
check "data kept over the upgrade" bash -c '[ -n "$(find /var/lib/stockbell -name CURRENT)" ]'
check "upgraded daemon starts on the kept config and data" start_daemon
check "upgraded daemon stops" stop_started_daemon

# 5. Purge: config and data gone, no process left; the user stays (Debian policy).
if DEBIAN_FRONTEND=noninteractive dpkg --purge stockbell </dev/null >"$work/dpkg.log" 2>&1; then
  ok "dpkg --purge stockbell"
else
  cat "$work/dpkg.log"
  bad "dpkg --purge stockbell"
fi
check "/etc/stockbell removed" test ! -e /etc/stockbell
check "$STATE removed" test ! -e "$STATE"
check "binaries and unit removed" \
  test ! -e /usr/bin/stockbelld -a ! -e /usr/lib/systemd/system/stockbelld.service
check "unit's enable symlink removed" \
  test ! -e /etc/systemd/system/multi-user.target.wants/stockbelld.service -a \
  ! -L /etc/systemd/system/multi-user.target.wants/stockbelld.service
check "no stockbell process left" bash -c '! pgrep -u stockbell >/dev/null'
check "user stockbell kept (Debian policy)" bash -c "getent passwd stockbell >/dev/null"

# 6. Where systemd-sysusers is not installed, postinst makes the same user with adduser.
if [ -x "$SYSUSERS" ]; then
  userdel stockbell 2>/dev/null
  ! getent group stockbell >/dev/null || groupdel stockbell
  if divert_sysusers && ! command -v systemd-sysusers >/dev/null &&
    DEBIAN_FRONTEND=noninteractive dpkg -i "$work/old.deb" </dev/null >"$work/dpkg.log" 2>&1; then
    ok "dpkg -i without systemd-sysusers"
  else
    cat "$work/dpkg.log"
    bad "dpkg -i without systemd-sysusers"
  fi
  check "adduser fallback: system user stockbell, home $STATE, no login" bash -c '
    IFS=: read -r _ _ uid _ _ home shell < <(getent passwd stockbell) &&
    [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/stockbell ] && [[ $shell == */nologin ]] &&
    getent group stockbell >/dev/null'
  check "adduser fallback: $STATE is stockbell:stockbell 0750" is "$(perms $STATE)" "stockbell:stockbell 750"
  check "adduser fallback: $CONF is root:stockbell 0640" is "$(perms $CONF)" "root:stockbell 640"
  DEBIAN_FRONTEND=noninteractive dpkg --purge stockbell </dev/null >/dev/null 2>&1
  undivert_sysusers
  check "systemd-sysusers restored" test -x "$SYSUSERS"
  check "purged again" test ! -e /etc/stockbell -a ! -e "$STATE"
fi

finish
