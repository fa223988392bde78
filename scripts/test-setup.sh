#!/usr/bin/env bash
# Run before the tests (`npm test` runs it through `pretest`): starts the local PostgreSQL and
# Redis when they are installed but stopped, and installs Debian's chromium for the browser tests
# when it is missing and this user may. Idempotent and quick when everything is there. Whatever
# cannot be set up here is reported, and its suites skip with a loud notice (outside CI).
set -u

if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start ||
      echo "test-setup: could not start PostgreSQL"
  fi
fi
if command -v redis-server >/dev/null && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no ||
    echo "test-setup: could not start Redis"
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-setup: installing Debian's chromium for the browser tests"
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) ||
      echo "test-setup: could not install chromium"
  else
    echo "test-setup: chromium is missing (apt-get install chromium, or set CHROMIUM=…)"
  fi
fi
exit 0
