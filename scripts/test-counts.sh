#!/usr/bin/env bash
# Checks a `cargo test` log against scripts/test-counts.txt: every test
# binary (unit tests, integration tests, doc-tests) must run exactly the
# number of tests listed for it, so a test that stops being compiled or run
# (a lost file, a cfg, a filter) fails the suite instead of vanishing.
#   scripts/test-counts.sh LOG           # check
#   scripts/test-counts.sh --write LOG   # rewrite the list after adding tests
set -euo pipefail
cd "$(dirname "$0")/.."
write=0
if [ "${1:-}" = --write ]; then write=1; shift; fi
log=$1
expected=scripts/test-counts.txt

# "Running unittests src/lib.rs (target/x/deps/name-hash)" or
# "Running tests/cli.rs (target/x/deps/cli-hash)" or "Doc-tests name",
# each followed by "test result: ok. N passed; ...".
actual=$(awk '
  /^ *Running / {
    if ($2 == "unittests") { src = $3; bin = $4 } else { src = $2; bin = $3 }
    gsub(/[()]/, "", bin); sub(/.*\//, "", bin); sub(/-[0-9a-f]+$/, "", bin)
    key = bin " " src
  }
  /^ *Doc-tests / { key = $2 " doc-tests" }
  /^test result: / { print key, $4; key = "" }
' "$log" | sort)

if [ -z "$actual" ]; then
  echo "test-counts: no test results found in $log" >&2
  exit 1
fi
if [ "$write" = 1 ]; then
  { echo "# test binary, source, tests it runs: checked by scripts/test-counts.sh"; echo "$actual"; } > "$expected"
  echo "test-counts: wrote $expected" >&2
  exit 0
fi
if ! diff <(grep -v '^#' "$expected") <(echo "$actual") > /dev/null; then
  echo "test-counts: the tests that ran differ from $expected (< expected, > ran):" >&2
  diff <(grep -v '^#' "$expected") <(echo "$actual") >&2 || true
  echo "test-counts: if tests were added or removed on purpose, run scripts/test-counts.sh --write LOG" >&2
  exit 1
fi
total=$(echo "$actual" | awk '{ s += $NF } END { print s }')
echo "test: $total tests passed in $(echo "$actual" | wc -l) test binaries, each the expected number" >&2
