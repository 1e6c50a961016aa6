#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs every check and test:
# lint and types (ruff, mypy, eslint), the Flex plugin's type check, unit tests and production
# build, the Python suite (unit, integration against real redis-server and gunicorn processes,
# browser tests), and last the formatting checks (ruff format, prettier).
#
#   bash scripts/test.sh [PYTEST ARGS]            # with the locked versions (requirements/test.txt, package-lock.json)
#   bash scripts/test.sh --latest [PYTEST ARGS]   # the drift check: the newest versions the ranges allow,
#                                                 # in a fresh virtualenv and a fresh npm install
#
# Every step runs even when an earlier one fails (a step that needs a failed one is named as skipped), and
# the last line always names what failed.
set -uo pipefail
cd "$(dirname "$0")/.."

latest=false
if [ "${1:-}" = "--latest" ]; then
  latest=true
  shift
fi

failed=()
skipped=()
check() {
  local name=$1
  shift
  "$@" && return 0
  failed+=("$name")
  return 1
}
summary() {
  [ ${#skipped[@]} -eq 0 ] || printf 'scripts/test.sh: skipped (a step they need failed): %s\n' "$(IFS=,; echo "${skipped[*]}" | sed 's/,/, /g')" >&2
  if [ ${#failed[@]} -gt 0 ]; then
    printf 'scripts/test.sh: failed: %s\n' "$(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')" >&2
    return 1
  fi
  echo "==> every check and test passed"
}
# The summary is printed however the script ends (an unexpected error or Ctrl-C included).
trap 'status=$?; trap - EXIT; if [ $status -ne 0 ] && [ ${#failed[@]} -eq 0 ]; then failed+=("scripts/test.sh itself (exit $status)"); fi; summary; exit $?' EXIT
trap 'exit 130' INT TERM

install_apt() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
  command -v openssl >/dev/null || need+=(openssl)
  [ ${#need[@]} -gt 0 ] || return 0
  echo "==> installing ${need[*]} (apt, as root)"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}
check "apt install (redis-server, chromium, nginx, openssl)" install_apt

node_ok=true
node_major=$(node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/' || true)
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  echo "scripts/test.sh: the Flex plugin needs Node 20 or later (found: ${node_major:-none}); install it, then run again." >&2
  failed+=("Node 20")
  node_ok=false
fi

python=python3
if $latest; then
  venv=$(mktemp -d)/venv
  echo "==> drift check: a fresh virtualenv ($venv) with the newest versions setup.cfg's ranges allow"
  python3 -m venv "$venv" && python=$venv/bin/python && export PATH="$venv/bin:$PATH"
  install_python() {
    "$python" -m pip install -q --disable-pip-version-check --upgrade pip &&
      "$python" -m pip install -q --disable-pip-version-check -e '.[test]' &&
      echo "==> Python packages that differ from requirements/test.txt (locked -> newest):" &&
      "$python" scripts/lock_diff.py requirements/test.txt
  }
else
  echo "==> installing the relay and its test dependencies (pip, the locked versions of requirements/test.txt)"
  install_python() {
    "$python" -m pip install -q --disable-pip-version-check --require-hashes -r requirements/test.txt &&
      "$python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  }
fi
python_ok=true
check "pip install" install_python || python_ok=false

if $python_ok; then
  echo "==> Python lint and types (ruff check, mypy)"
  check "ruff check" "$python" -m ruff check --output-format concise .
  check "mypy" "$python" -m mypy
else
  skipped+=("ruff check" "mypy")
fi

plugin_ok=false
if $node_ok; then
  echo "==> Flex plugin: node modules, lint, type check and unit tests, production build, e2e harness"
  install_node() {
    cd plugin-cintel-rtt || return 1
    local stamp=node_modules/.installed-lock-sha256 want
    if $latest; then
      # A fresh resolution of package.json's ranges, ignoring the lock; the stamp makes the next locked run reinstall.
      rm -rf node_modules && npm install --package-lock=false --no-audit --no-fund --loglevel=error &&
        echo "latest" > "$stamp" &&
        echo "==> npm packages that differ from package-lock.json (locked -> installed):" &&
        node ../scripts/npm_lock_diff.js
    else
      # npm ci deletes and reinstalls about 1 GB; skip it while node_modules matches the lock file.
      want=$(sha256sum package-lock.json | cut -d' ' -f1)
      if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        echo "node_modules matches package-lock.json: npm ci skipped"
      else
        npm ci --no-audit --no-fund --loglevel=error && echo "$want" > "$stamp"
      fi
    fi
    local status=$?
    cd ..
    return $status
  }
  if check "npm install" install_node; then
    plugin_ok=true
    check "eslint" npm --prefix plugin-cintel-rtt run --silent lint
    check "plugin tests" npm --prefix plugin-cintel-rtt test --silent
    check "plugin build" npm --prefix plugin-cintel-rtt run --silent build
    check "plugin harness build" npm --prefix plugin-cintel-rtt run --silent harness:build
  else
    skipped+=(eslint "plugin tests" "plugin build" "plugin harness build")
  fi
fi

if $python_ok; then
  # The browser tests of the plugin's panel need its harness; without it they fail, and say so.
  echo "==> Python tests (they start their own redis-server, gunicorn and Chromium processes)"
  check "pytest" "$python" -m pytest "$@"
  echo "==> formatting (ruff format, prettier): run them without --check to fix"
  check "ruff format" "$python" -m ruff format --check --output-format concise .
else
  skipped+=(pytest "ruff format")
fi
if $plugin_ok; then
  check "prettier" npm --prefix plugin-cintel-rtt run --silent format:check
else
  skipped+=(prettier)
fi
