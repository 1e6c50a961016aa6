#!/usr/bin/env bash
# Refreshes the locks from the ranges in setup.cfg: requirements.txt (what the relay runs with: Heroku,
# the Dockerfile) and requirements/test.txt (the relay plus its test and dev tools: the test command, CI),
# every transitive package at an exact version with its hashes, for CPython 3.11 on Linux. The test lock
# is resolved against the runtime lock, so the two never name different versions of one package.
# Then the plugin's package-lock.json, from package.json's ranges.
#
#   bash scripts/lock.sh            # newest versions the ranges allow, for Python and npm
#   bash scripts/lock.sh --python   # the Python locks only
#
# Run `bash scripts/test.sh` afterwards: a refreshed lock lands only once the suite passes on it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m uv --version >/dev/null 2>&1 || {
  echo "scripts/lock.sh: needs uv (it is in the test lock): pip install --require-hashes -r requirements/test.txt" >&2
  exit 1
}
compile=(python3 -m uv pip compile --quiet --upgrade --generate-hashes --python-version 3.11
  --python-platform x86_64-unknown-linux-gnu --no-strip-extras --custom-compile-command "bash scripts/lock.sh")

echo "==> requirements.txt: the relay's own dependencies"
"${compile[@]}" setup.cfg -o requirements.txt
echo "==> requirements/test.txt: the relay, its tests and dev tools (constrained by requirements.txt)"
"${compile[@]}" setup.cfg --extra test --constraint requirements.txt -o requirements/test.txt

if [ "${1:-}" != "--python" ]; then
  echo "==> plugin-cintel-rtt/package-lock.json"
  (cd plugin-cintel-rtt && rm -f package-lock.json && npm install --package-lock-only --no-audit --no-fund --loglevel=error)
fi
git --no-pager diff --stat -- requirements.txt requirements/ plugin-cintel-rtt/package-lock.json || true
