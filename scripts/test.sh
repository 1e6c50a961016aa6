#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs every check and test:
# lint and types (ruff, mypy, eslint), the Flex plugin's type check, unit tests and production
# build, the Python suite (unit, integration against real redis-server and gunicorn processes,
# browser tests), and last the formatting checks (ruff format, prettier).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "==> installing ${need_apt[*]} (apt, as root)"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  echo "scripts/test.sh: the Flex plugin needs Node 20 or later (found: ${node_major:-none}); install it first." >&2
  exit 1
fi

echo "==> installing the relay and its test dependencies (pip)"
python3 -m pip install -q --disable-pip-version-check -e '.[test]'

# Every check runs even when an earlier one fails, so one run shows everything to fix.
failed=()
check() {
  local name=$1
  shift
  "$@" || failed+=("$name")
}

echo "==> Python lint and types (ruff check, mypy)"
check "ruff check" python3 -m ruff check --output-format concise .
check "mypy" python3 -m mypy

echo "==> Flex plugin: node modules, lint, type check and unit tests, production build, e2e harness"
cd plugin-cintel-rtt
# npm ci deletes and reinstalls about 1 GB; skip it while node_modules matches the lock file.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.installed-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$stamp"
else
  echo "node_modules matches package-lock.json: npm ci skipped"
fi
check "eslint" npm run --silent lint
check "plugin tests" npm test --silent
check "plugin build" npm run --silent build
npm run --silent harness:build  # the browser tests below need it
cd ..

echo "==> Python tests (they start their own redis-server, gunicorn and Chromium processes)"
check "pytest" python3 -m pytest "$@"

echo "==> formatting (ruff format, prettier): run them without --check to fix"
check "ruff format" python3 -m ruff format --check --output-format concise .
check "prettier" npm --prefix plugin-cintel-rtt run --silent format:check

if [ ${#failed[@]} -gt 0 ]; then
  printf 'scripts/test.sh: failed: %s\n' "$(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')" >&2
  exit 1
fi
echo "==> every check and test passed"
