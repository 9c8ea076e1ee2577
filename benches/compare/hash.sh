#!/usr/bin/env bash
# Side by side, in one run, on one file held in the page cache (4 GiB by
# default; SIZE_MB to change): `custody hash` (BLAKE3 alone, with its chunk
# tree written out, memory-mapped, and BLAKE3 + SHA-256 in one pass) against
# `b3sum` (default mmap and --no-mmap), `openssl dgst -sha256`, and
# `cat FILE > /dev/null` (the read limit). Prints MB/s and ratios. Best of
# RUNS (5) runs: these machines are noisy.
cd "$(dirname "$0")/../.."
source benches/compare/common.sh
scripts/setup.sh
cargo build --release -q -p custody-cli
data=${BENCH_DATA:-bench-data}
size_mb=${SIZE_MB:-4096}
runs=${RUNS:-5}
mkdir -p "$data"
file=$data/random-${size_mb}M.bin
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" != $((size_mb * 1048576)) ]; then
  echo "hash: writing $file" >&2
  random_file "$file" "$size_mb" custody
fi
cat "$file" > /dev/null   # into the page cache
custody=target/release/custody
trees=$(mktemp -d)

best_s() {
  local best=""
  for _ in $(seq "$runs"); do
    local t
    t=$(run_us "$@")
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  awk -v t="$best" 'BEGIN { printf "%.3f", t / 1e6 }'
}

declare -A secs
row() {
  local name=$1; shift
  secs[$name]=$(best_s "$@")
  awk -v n="$name" -v s="${secs[$name]}" -v mb="$size_mb" 'BEGIN { printf "%-34s %8.3f s %9.0f MB/s\n", n, s, mb * 1.048576 / s }'
}

echo "best of $runs runs on a ${size_mb} MiB file in the page cache"
row "cat > /dev/null" sh -c "cat '$file' > /dev/null"
row "b3sum (mmap)" b3sum "$file"
row "b3sum --no-mmap" b3sum --no-mmap "$file"
row "openssl dgst -sha256" openssl dgst -sha256 "$file"
row "custody hash --algo blake3" "$custody" hash --algo blake3 "$file"
row "custody hash --algo blake3 --tree-out" "$custody" hash --algo blake3 --tree-out "$trees" "$file"
row "custody hash --algo blake3 --no-mmap" "$custody" hash --algo blake3 --no-mmap "$file"
row "custody hash --algo both" "$custody" hash --algo both "$file"
row "custody hash --algo both --no-mmap" "$custody" hash --algo both --no-mmap "$file"
rm -rf "$trees"

ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN { printf "%.2fx", a / b }'; }
fast_b3=$(awk -v a="${secs["b3sum (mmap)"]}" -v b="${secs["b3sum --no-mmap"]}" 'BEGIN { print (a < b) ? "b3sum (mmap)" : "b3sum --no-mmap" }')
echo
echo "BLAKE3 alone vs the faster b3sum mode ($fast_b3): $(ratio "$fast_b3" "custody hash --algo blake3") (target >= 1.0x)"
echo "BLAKE3 alone, streamed (--no-mmap) vs b3sum --no-mmap: $(ratio "b3sum --no-mmap" "custody hash --algo blake3 --no-mmap")"
echo "BLAKE3 + SHA-256 in one pass vs openssl SHA-256 alone: $(ratio "openssl dgst -sha256" "custody hash --algo both") (target >= 0.95x); streamed: $(ratio "openssl dgst -sha256" "custody hash --algo both --no-mmap")"
echo "tree written vs BLAKE3 alone: $(ratio "custody hash --algo blake3" "custody hash --algo blake3 --tree-out") (target >= 0.95x, i.e. at most 5% slower)"
echo "read limit (cat) vs custody BLAKE3: $(ratio "cat > /dev/null" "custody hash --algo blake3")"
