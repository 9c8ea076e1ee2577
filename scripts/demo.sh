#!/usr/bin/env bash
# The main job, end to end: make a small recorder dump (real H.264/AAC encodes
# in every container a recorder writes, a file cut short by a power loss, a
# photo, an audio note) and probe it: containers, tracks, codecs, sample
# counts, durations, metadata, GPS and warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p custody-cli
cargo build --release -q --example make_recording

out=demo-out/DCIM/100REC
mkdir -p "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
src=(-f lavfi -i "testsrc2=size=320x240:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000")
enc=(-c:v libx264 -preset veryfast -g 30 -c:a aac -b:a 64k -t 10)
tag=(-metadata "location=+52.3702+004.8952/" -metadata "make=Custody Demo" -metadata "model=BWC-1")

echo "demo: writing a recorder dump to demo-out/" >&2
ff "${src[@]}" "${enc[@]}" "${tag[@]}" "$out/SN1234_012345_20261129083000_0001.MP4"
ff -i "$out/SN1234_012345_20261129083000_0001.MP4" -c copy "$out/SN1234_012345_20261129083010_0002.TS"
ff -i "$out/SN1234_012345_20261129083000_0001.MP4" -c copy -f mpegts -mpegts_m2ts_mode 1 "$out/00001.M2TS"
ff -i "$out/SN1234_012345_20261129083000_0001.MP4" -c copy -movflags frag_keyframe+empty_moov "$out/FRAG0001.MP4"
ff "${src[@]}" -c:v mpeg2video -c:a mp2 -t 5 -f vob "$out/CLIP0001.MPG"
ff "${src[@]}" -c:v libx264 -preset veryfast -c:a pcm_s16le -t 5 "$out/2026_1129_083100_003.MOV"
ff -f lavfi -i "testsrc2=size=640x480" -frames:v 1 "$out/IMG_0001.JPG"
ff -f lavfi -i "sine=frequency=300:sample_rate=16000" -t 3 "$out/VOICE001.WAV"
# A recording cut short by a power loss: the moov never made it to disk.
ff "${src[@]}" "${enc[@]}" -movflags +faststart "$out/.full.MP4"
head -c "$(( $(stat -c %s "$out/.full.MP4") * 6 / 10 ))" "$out/.full.MP4" > "$out/SN1234_012345_20261129083200_0004.MP4"
rm -f "$out/.full.MP4"
# A one-hour recording's index, built without reading its media.
target/release/examples/make_recording "$out/SN1234_012345_20261129090000_0005.MP4" 3600

echo >&2
target/release/custody probe "$out"/* || true
echo >&2
echo "demo: the same, as JSON (first file):" >&2
target/release/custody probe --json "$out/SN1234_012345_20261129083000_0001.MP4"

echo >&2
echo "demo: fixity: BLAKE3 + SHA-256 of every file in one pass, with chunk trees" >&2
target/release/custody hash --tree-out demo-out/trees "$out"/*
echo >&2
echo "demo: one byte of a copy changed; locate names its 64 KiB range" >&2
first=$out/SN1234_012345_20261129083000_0001.MP4
cp "$first" demo-out/tampered.MP4
printf '\xff' | dd of=demo-out/tampered.MP4 bs=1 seek=300000 conv=notrunc status=none
target/release/custody locate demo-out/tampered.MP4 "demo-out/trees/$(basename "$first").b3tree" || true
echo >&2
echo "demo: content hashes: the MP4 and its MPEG-TS remux hold the same media" >&2
for f in "$first" "$out/SN1234_012345_20261129083010_0002.TS"; do
  target/release/custody hash --content --json "$f"
done
