#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]} (apt)"
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "==> installing the relay and its test dependencies (pip)"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "==> running the Python tests (they start their own redis-server and gunicorn processes)"
python3 -m pytest "$@"
