#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs every test:
# the Flex plugin's type check, unit tests and production build, then the Python suite
# (unit, integration against real redis-server and gunicorn processes, browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]} (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "==> installing the relay and its test dependencies (pip)"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "==> Flex plugin: npm ci, type check and unit tests, production build, e2e harness"
(
  cd plugin-cintel-rtt
  npm ci --no-audit --no-fund --loglevel=error
  npm test --silent
  npm run --silent build
  npm run --silent harness:build
)

echo "==> Python tests (they start their own redis-server, gunicorn and Chromium processes)"
python3 -m pytest "$@"
