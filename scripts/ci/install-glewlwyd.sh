#!/usr/bin/env bash
# Installs Debian's glewlwyd (the second real OpenID provider the tests run against) without ever
# leaving a glewlwyd service running. Idempotent: does nothing when /usr/bin/glewlwyd is there.
# Run as root (CI runs .ci/run as root). The tests start their own private instances on 127.0.0.1
# (test/helpers/glewlwyd.ts); the system-wide config and service are never used.
#
# - debconf: glewlwyd/config_type preseeded to "No configuration" (its default, "Personalized", goes
#   through dbconfig-common and can end in PostgreSQL commands that fail); dbconfig-no-thanks
#   satisfies the package's dbconfig-* dependency without pulling a MySQL/MariaDB client.
# - postinst runs `invoke-rc.d glewlwyd start`, which would listen on all interfaces: a temporary
#   /usr/sbin/policy-rc.d answering 101 ("action forbidden") stops that; an existing policy-rc.d is
#   put back afterwards.
# - afterwards the service is disabled and, if something started it anyway, stopped.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ -x /usr/bin/glewlwyd ] && dpkg-query -W -f='${Status}' glewlwyd 2>/dev/null | grep -q 'install ok installed'; then
  echo "glewlwyd already installed: $(/usr/bin/glewlwyd --version 2>/dev/null | head -n 1 || echo /usr/bin/glewlwyd)"
else
  policy=/usr/sbin/policy-rc.d
  backup=""
  if [ -e "$policy" ] || [ -L "$policy" ]; then
    backup="$(mktemp /usr/sbin/policy-rc.d.cli-login.XXXXXX)"
    cp -a "$policy" "$backup"
  fi
  restore_policy() {
    if [ -n "$backup" ]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# cli-login: keep package scripts from starting services during install\nexit 101\n' >"$policy"
  chmod 0755 "$policy"

  echo 'glewlwyd glewlwyd/config_type select No configuration' | debconf-set-selections

  need_update=1
  if apt-cache policy glewlwyd 2>/dev/null | grep -q 'Candidate: [0-9]'; then need_update=0; fi
  if [ "$need_update" = 1 ]; then apt-get update -qq; fi
  # sqlite3 is a dependency of glewlwyd; named to make the need explicit (the helper initialises its db with it).
  apt-get install -y -qq --no-install-recommends glewlwyd dbconfig-no-thanks sqlite3 >/dev/null

  restore_policy
  trap - EXIT
fi

# Never leave a system-wide glewlwyd enabled or running (it would listen on every interface).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now glewlwyd.service >/dev/null 2>&1 || true
elif [ -x /etc/init.d/glewlwyd ]; then
  update-rc.d glewlwyd disable >/dev/null 2>&1 || true
  /etc/init.d/glewlwyd stop >/dev/null 2>&1 || true # its "status" action is not implemented
fi
# Whatever is still running from the system-wide config (the init script's pid file, or found by
# its command line): stopped. Test instances run with -c <temp dir>/glewlwyd.conf and are left alone.
for pidfile in /run/glewlwyd.pid /var/run/glewlwyd.pid; do
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/glewlwyd'; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
done
for pid in $(pgrep -x glewlwyd || true); do
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q '/etc/glewlwyd'; then
    echo "stopping the system-wide glewlwyd (pid $pid)" >&2
    kill "$pid" 2>/dev/null || true
  fi
done

for f in /usr/bin/glewlwyd /usr/share/glewlwyd/webapp /usr/share/dbconfig-common/data/glewlwyd/install/sqlite3; do
  [ -e "$f" ] || echo "warning: expected $f is missing" >&2
done
echo "glewlwyd ready: $(dpkg-query -W -f='${Version}' glewlwyd)"
