#!/usr/bin/env bash
# Side by side, in one run: `custody probe --json` against `ffprobe -count_packets`,
# `ffprobe -show_packets` and `mediainfo` on the same files; prints medians and
# ratios (how many times faster custody is), then custody's peak memory when
# probing a 4 GiB recording.
#
#   benches/compare/probe.sh            # RUNS=7 by default; BIG=0 skips the 4 GiB file
cd "$(dirname "$0")/../.."
source benches/compare/common.sh
scripts/setup.sh
cargo build --release -q -p custody-cli
cargo build --release -q --example make_recording
data=${BENCH_DATA:-bench-data}
runs=${RUNS:-7}
mkdir -p "$data"
for ext in mp4 avi mkv; do
  [ -f "$data/1h.$ext" ] || target/release/examples/make_recording "$data/1h.$ext" 3600
done
custody=target/release/custody

# Median wall time of a command in milliseconds over $runs runs (output discarded).
median_ms() {
  local t=()
  for _ in $(seq "$runs"); do
    t+=("$(run_us "$@")")
  done
  printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }

compare() {
  local f=$1
  local c p s m
  c=$(median_ms "$custody" probe --json "$f")
  p=$(median_ms ffprobe -v error -count_packets -show_streams -show_format -of json "$f")
  s=$(median_ms ffprobe -v error -show_packets -of json "$f")
  m=$(median_ms mediainfo --Output=JSON "$f")
  printf '%-44s %10s %12s %12s %10s   %8s %8s %8s\n' "$(basename "$f")" "$c" "$p" "$s" "$m" \
    "$(ratio "$p" "$c")" "$(ratio "$s" "$c")" "$(ratio "$m" "$c")"
}

echo "median of $runs runs, milliseconds; ratios = tool time / custody time"
printf '%-44s %10s %12s %12s %10s   %8s %8s %8s\n' file custody ffprobe-count ffprobe-pkts mediainfo \
  "x count" "x pkts" "x mi"
compare "$data/1h.mp4"
# One hour of tiny MJPEG pictures in AVI (idx1) and in Matroska: 108,000 packets each.
compare "$data/1h.avi"
compare "$data/1h.mkv"
corpus=${CUSTODY_CORPUS:-../shared/corpus}
for f in gopro/karma.mp4 androidx/mp4/sowt-with-video.mov androidx/ts/bbb_2500ms.ts; do
  if [ -f "$corpus/$f" ]; then compare "$corpus/$f"; else echo "(no $corpus/$f: skipped)"; fi
done

if [ "${BIG:-1}" = 1 ]; then
  # About 4 GiB: one hour at 30 fps with 37,000 extra bytes per video frame.
  [ -f "$data/4g.mp4" ] || target/release/examples/make_recording "$data/4g.mp4" 3600 37000
  size=$(stat -c %s "$data/4g.mp4")
  rss=$( { /usr/bin/time -f '%M' "$custody" probe --json "$data/4g.mp4" >/dev/null; } 2>&1 | tail -1)
  echo "peak memory probing $(basename "$data/4g.mp4") ($((size / 1048576)) MiB): $((rss / 1024)) MiB (max RSS)"
  c=$(median_ms "$custody" probe --json "$data/4g.mp4")
  p=$(median_ms ffprobe -v error -count_packets -show_streams -show_format -of json "$data/4g.mp4")
  echo "4 GiB file: custody ${c} ms, ffprobe -count_packets ${p} ms ($(ratio "$p" "$c"))"
fi
