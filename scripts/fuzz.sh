#!/usr/bin/env bash
# Runs every fuzz target (or FUZZ_TARGETS) for a bounded time (FUZZ_SECONDS, default 60; the demuxer's six parser targets half that) with
# AddressSanitizer on stable Rust. Seeds: fuzz/corpus/TARGET plus the shared
# media corpus when present. Generated inputs go to fuzz/work (ignored by git).
# A crash exits 1 and leaves fuzz/artifacts/TARGET/crash-*: add it to
# fuzz/regressions/TARGET so `cargo test` replays it forever.
# Cost is bounded too: an input of up to 4 MiB that takes more than 2 s
# (timeout-*) or 512 MiB (oom-*) is a finding like a crash. The fuzzer runs
# in fork mode (each job in a child with a slice of the corpus) and with a
# small ASan quarantine, so the memory limit measures the input, not a
# corpus that grows to hundreds of MiB in memory within minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
corpus=${CUSTODY_CORPUS:-../shared/corpus}

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2

root=$(pwd)
# FUZZ_TARGETS="ps tree" runs only those.
targets=${FUZZ_TARGETS:-$(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//')}
for target in $targets; do
  work=$root/fuzz/work/$target
  mkdir -p "$work"
  seeds=("$work" "$root/fuzz/corpus/$target")
  # The media corpus seeds the media parsers only.
  case $target in
    bmff|ts|ps|demux|content|window|capi|riff|mkv|flv|ogg|audio|photo)
      [ -d "$corpus" ] && seeds+=("$(cd "$corpus" && pwd)") ;;
  esac
  # The demuxer's parsers, one target each, are small: half the time each.
  t=$seconds
  case $target in riff|mkv|flv|ogg|audio|photo) t=$(( (seconds + 1) / 2 )) ;; esac
  echo "fuzz: $target for ${t}s" >&2
  log=$root/fuzz/work/$target.log
  if ! (cd fuzz && ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=32} RUSTC_BOOTSTRAP=1 \
      timeout $((t + 900)) cargo fuzz run "$target" "${seeds[@]}" -- -fork=1 \
      -max_total_time="$t" -timeout=2 -rss_limit_mb=512 -max_len=4194304 -print_final_stats=1) >"$log" 2>&1; then
    tail -60 "$log" >&2
    echo "fuzz: $target FAILED (log: $log; inputs: fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  # Fork mode reports "#RUNS: cov: ..." lines; a single process, final stats.
  grep -E '^stat::number_of_executed_units|Done [0-9]+ runs|^#[0-9]+: cov:' "$log" | tail -1 >&2 || true
done
echo "fuzz: all targets ran without a crash" >&2
