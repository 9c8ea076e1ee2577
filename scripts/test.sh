#!/usr/bin/env bash
# The whole test suite: installs what it needs, checks formatting, lints and
# the API documentation,
# runs every test (unit, property, conformance against ffprobe over the
# shared corpus, CLI, fuzz replays) under the `checked` profile (release with
# overflow checks and debug assertions), checks that each test binary ran
# exactly the tests it is known to hold, then runs each fuzz target for a
# bounded time (SKIP_FUZZ=1 skips that last step).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
export CUSTODY_REQUIRE_TOOLS=1

# The heavy optional features (the redaction models through tract; the C
# library with redaction, which links FFmpeg's) are built once, for every
# step, by naming them for the whole workspace.
features=(--features custody-redact/models,custody-ffi/redact)

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --profile checked "${features[@]}" -- -D warnings
# The API documentation builds without a warning (broken links included).
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet "${features[@]}"

# Every library, binary and test first, so that the tests exercising built
# artefacts (the C ABI's cdylib, the CLI binaries) use this tree's build:
# `cargo test` builds a library only as the rlib its tests link. With
# `--all-targets` the dependencies are built once, with the features the
# tests' dev-dependencies add; a plain `cargo build` resolves them without
# those, and `cargo test` then built every crate (tract and FFmpeg's
# bindings included) a second time, doubling the time and the disk used.
cargo build --workspace --all-targets --profile checked --quiet "${features[@]}"
echo "test: built; target/ holds $(du -sh target | cut -f1), $(df -h --output=avail . | tail -1 | tr -d ' ') free" >&2

# A hang fails the run instead of stalling it.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout --kill-after=30 "${TEST_TIMEOUT:-2400}" cargo test --workspace --profile checked --no-fail-fast "${features[@]}" 2>&1 | tee "$log"
scripts/test-counts.sh "$log"

if [ -z "${CUSTODY_REQUIRE_CORPUS:-}" ]; then
  echo "test: CUSTODY_REQUIRE_CORPUS is not set: tests whose media corpus is missing passed without their corpus cases (.ci/run requires it)" >&2
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh
else
  echo "test: SKIP_FUZZ=1: the fuzz targets were not run" >&2
fi
