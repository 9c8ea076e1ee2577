#!/usr/bin/env bash
# Side by side, in one run, with hyperfine, on a generated one-minute 720p30
# H.264 + AAC clip: `custody archive` against the ffmpeg CLI with identical
# settings, and the decoded-frame proof against decoding both files once.
#   remux:        ffmpeg -i CLIP -map 0 -c copy OUT.mkv (and the same followed by
#                 `sync OUT.mkv`: custody fsyncs every output before renaming it)
#                 vs custody archive --profile remux-mkv (with and without its packet proof)
#   preservation: ffmpeg -i CLIP -map 0 -c:v ffv1 -level 3 -g 1 -slices 16 -slicecrc 1 -c:a copy OUT.mkv
#                 vs custody archive --profile preservation --no-proof (frames in
#                 parallel: runs of GOPs on workers; and FFmpeg's slice threads),
#                 and with its proof
#   proof:        custody compare CLIP MASTER vs ffmpeg -f null on both files
#                 (and -f framemd5 on both, for reference)
# RUNS (default 3) runs each; the clip is kept in BENCH_DATA (bench-data).
# Targets (issue 10): remux at most 1.0x ffmpeg's time; preservation at least
# 1.3x faster than ffmpeg; the proof at most 1.2x decoding both.
cd "$(dirname "$0")/../.."
source benches/compare/common.sh
if ! command -v hyperfine >/dev/null 2>&1; then
  echo "transcode: installing hyperfine" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! { $sudo apt-get install -y -qq hyperfine >/dev/null 2>&1; }; then
    cargo install hyperfine --locked -q
  fi
fi
command -v ffmpeg >/dev/null 2>&1 || scripts/setup.sh
cargo build --release -q -p custody-cli
custody=target/release/custody
runs=${RUNS:-3}
data=${BENCH_DATA:-bench-data}
mkdir -p "$data"
clip=$data/clip-720p30-60s.mp4
if [ ! -s "$clip" ]; then
  echo "transcode: generating $clip" >&2
  ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=s=1280x720:r=30:d=60 \
    -f lavfi -i sine=f=440:r=48000:d=60 -c:v libx264 -preset veryfast -pix_fmt yuv420p \
    -g 60 -c:a aac -b:a 128k -shortest "$clip"
fi
cat "$clip" > /dev/null   # into the page cache
# The machine's load beside the figures: ratios from one run are what count.
echo "transcode: load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
out=$(mktemp -d)
json=$(mktemp -d)
trap 'rm -rf "$out" "$json"' EXIT
clean="sh -c 'rm -f $out/*.mkv'"

hyperfine -N --style basic --warmup 1 --runs "$((runs * 3))" --prepare "$clean" \
  --export-json "$json/remux.json" \
  -n "ffmpeg -c copy" "ffmpeg -nostdin -v error -y -i $clip -map 0 -c copy $out/f.mkv" \
  -n "ffmpeg -c copy, then sync" "sh -c 'ffmpeg -nostdin -v error -y -i $clip -map 0 -c copy $out/d.mkv && sync $out/d.mkv'" \
  -n "custody remux-mkv" "$custody archive $clip --profile remux-mkv -o $out/c.mkv" \
  -n "custody remux-mkv --no-proof" "$custody archive $clip --profile remux-mkv -o $out/n.mkv --no-proof"

hyperfine -N --style basic --runs "$runs" --prepare "$clean" \
  --export-json "$json/preservation.json" \
  -n "ffmpeg ffv1" "ffmpeg -nostdin -v error -y -i $clip -map 0 -c:v ffv1 -level 3 -g 1 -slices 16 -slicecrc 1 -c:a copy $out/f.mkv" \
  -n "custody preservation --no-proof" "$custody archive $clip --profile preservation -o $out/c.mkv --no-proof" \
  -n "custody preservation --no-proof --slice-threads" "$custody archive $clip --profile preservation -o $out/s.mkv --no-proof --slice-threads" \
  -n "custody preservation (with proof)" "$custody archive $clip --profile preservation -o $out/p.mkv"

master=$data/clip-720p30-60s.preservation.mkv
rm -f "$master"
"$custody" archive "$clip" --profile preservation -o "$master" --no-proof > /dev/null
hyperfine -N --style basic --runs "$runs" \
  --export-json "$json/proof.json" \
  -n "decode both (ffmpeg -f null)" "sh -c 'ffmpeg -nostdin -v error -i $clip -f null - && ffmpeg -nostdin -v error -i $master -f null -'" \
  -n "framemd5 both (ffmpeg)" "sh -c 'ffmpeg -nostdin -v error -i $clip -f framemd5 - > /dev/null && ffmpeg -nostdin -v error -i $master -f framemd5 - > /dev/null'" \
  -n "custody compare" "$custody compare $clip $master"
rm -f "$master"
echo "transcode: load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$json" <<'PY'
import json, sys, os
d = sys.argv[1]
def means(name):
    r = json.load(open(os.path.join(d, name)))["results"]
    return {x["command"]: x["mean"] for x in r}
rm, pr, pf = means("remux.json"), means("preservation.json"), means("proof.json")
print()
print("summary (mean wall time; ratio > 1 means custody is faster)")
f = rm["ffmpeg -c copy"]
durable = rm["ffmpeg -c copy, then sync"]
for k in ("custody remux-mkv --no-proof", "custody remux-mkv"):
    print(f"  remux: {k}: {rm[k]:.3f} s vs ffmpeg {f:.3f} s: custody takes {rm[k] / f:.2f}x ffmpeg's time (target <= 1.0x);"
          f" {rm[k] / durable:.2f}x the time of ffmpeg with its output synced ({durable:.3f} s), as custody's is")
f = pr["ffmpeg ffv1"]
for k in ("custody preservation --no-proof", "custody preservation --no-proof --slice-threads", "custody preservation (with proof)"):
    print(f"  preservation: {k}: {pr[k]:.2f} s vs ffmpeg {f:.2f} s: {f / pr[k]:.2f}x faster (target >= 1.3x)")
b = pf["decode both (ffmpeg -f null)"]
c = pf["custody compare"]
print(f"  proof: custody compare {c:.2f} s vs decoding both {b:.2f} s: {c / b:.2f}x the cost (target <= 1.2x); framemd5 both {pf['framemd5 both (ffmpeg)']:.2f} s")
PY
