#!/usr/bin/env bash
# Side by side, in one run: `custody ingest` of a recorder tree held in the
# page cache (2 GiB by default; SIZE_MB to change) against the two-step
# baseline `cp -r SRC DST` followed by `openssl dgst -sha256` of the copies,
# and against the same with `sync` after the copy (a copy that is on disk,
# as custody's are; without it the baseline leaves its copy in the page cache
# to be written back later).
# custody does more: BLAKE3 + SHA-256 + chunk tree in the same read, fsync of
# every copy, probe, content hashes, signed manifests, custody log, catalog;
# the default mode also re-reads each copy from disk.
cd "$(dirname "$0")/../.."
source benches/compare/common.sh
scripts/setup.sh
cargo build --release -q -p custody-cli
data=${BENCH_DATA:-bench-data}
size_mb=${SIZE_MB:-2048}
files=16
src=$data/recorder-${size_mb}M
if [ ! -d "$src" ]; then
  mkdir -p "$src/DCIM/100REC"
  per=$((size_mb / files))
  for i in $(seq -w 1 $files); do
    random_file "$src/DCIM/100REC/SN42_1001_20261129${i}0000_$i.MP4" "$per" "custody$i"
  done
fi
cat "$src"/DCIM/100REC/* > /dev/null
export CUSTODY_KEY=$data/bench-station.key
[ -f "$CUSTODY_KEY" ] || target/release/custody key init >/dev/null
work=$(mktemp -d "$data/ingest-XXXX")
trap 'rm -rf "$work"' EXIT

secs() { local us; us=$(run_us "$@"); awk -v d="$us" 'BEGIN { printf "%.2f", d / 1e6 }'; }

baseline() { cp -r "$src" "$work/copy" && openssl dgst -sha256 "$work"/copy/DCIM/100REC/* > /dev/null; }
durable() { cp -r "$src" "$work/copy" && sync && openssl dgst -sha256 "$work"/copy/DCIM/100REC/* > /dev/null; }
# Each step starts with nothing dirty in the page cache; the baseline runs
# first and last and keeps its better time.
sync
b1=$(secs baseline); rm -rf "$work/copy"; sync
n=$(secs target/release/custody ingest --no-reverify "$src" --store "$work/s1"); rm -rf "$work/s1"; sync
d=$(secs target/release/custody ingest "$src" --store "$work/s2"); rm -rf "$work/s2"; sync
j1=$(secs target/release/custody ingest --no-reverify --jobs 1 "$src" --store "$work/s3"); rm -rf "$work/s3"; sync
b2=$(secs baseline); rm -rf "$work/copy"; sync
ds=$(secs durable); rm -rf "$work/copy"; sync
b=$(awk -v a="$b1" -v c="$b2" 'BEGIN { print (a < c) ? a : c }')

echo "ingest of ${size_mb} MiB in $files files (page cache), one run each:"
printf '  %-48s %6s s\n' "cp -r + openssl dgst -sha256 (baseline)" "$b" \
  "cp -r + sync + openssl dgst -sha256" "$ds" \
  "custody ingest --no-reverify" "$n" \
  "custody ingest (default: re-verify from disk)" "$d" \
  "custody ingest --no-reverify --jobs 1" "$j1"
awk -v b="$b" -v n="$n" -v d="$d" -v s="$ds" 'BEGIN { printf "custody --no-reverify vs baseline: %.2fx (target >= 1.0x); default mode: %.2fx; default mode vs the durable baseline: %.2fx\n", b / n, b / d, s / d }'
