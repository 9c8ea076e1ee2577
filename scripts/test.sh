#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks formatting and lints,
# runs every test (unit, property, conformance against ffprobe over the
# shared corpus, CLI, fuzz replays), then runs each fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CUSTODY_REQUIRE_TOOLS=1

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --release -- -D warnings

log=$(mktemp)
cargo test --workspace --release 2>&1 | tee "$log"
passed=$(grep -oE 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
rm -f "$log"
if [ "$passed" -lt 30 ]; then
  echo "test: only $passed tests ran; something is not being tested" >&2
  exit 1
fi
echo "test: $passed tests passed" >&2

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh
fi
