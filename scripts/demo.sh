#!/usr/bin/env bash
# The main job, end to end, as a collection station does it: make a recorder
# dump (real H.264/AAC encodes in every container a recorder writes, an
# MJPEG AVI segment, consecutive segments with a gap, a file cut short by a
# power loss, a photo, a Broadcast Wave voice note), probe it, ingest it into an evidence store (verified copies,
# signed manifests, custody log, catalog), print the supervision report,
# archive one recording as a preservation master and an access copy (each
# proven and registered as a derivative), verify the store, then show what
# tampering looks like.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p custody-cli
cargo build --release -q --example make_recording

rm -rf demo-out
out=demo-out/recorder/DCIM/100REC
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
# A voice note as Broadcast Wave: its bext chunk carries the start (local time).
ff -f lavfi -i "sine=frequency=300:sample_rate=16000" -t 3 -c:a pcm_s16le -write_bext 1 \
  -metadata origination_date=2026-11-29 -metadata origination_time=08:34:00 \
  -metadata originator=BWC-1 "$out/VOICE001.WAV"
# An AVI segment (Motion JPEG and PCM, as many recorders write), named like the MP4s.
ff "${src[@]}" -c:v mjpeg -q:v 5 -c:a pcm_s16le -t 5 "$out/SN1234_012345_20261129083300_0006.AVI"
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

first=$out/SN1234_012345_20261129083000_0001.MP4
echo >&2
echo "demo: content hashes: the MP4 and its MPEG-TS remux hold the same media" >&2
for f in "$first" "$out/SN1234_012345_20261129083010_0002.TS"; do
  target/release/custody hash --content --json "$f"
done

store=demo-out/store
export CUSTODY_KEY=demo-out/keys/station.key
rm -rf "$store"
echo >&2
echo "demo: the station key (created on first use)" >&2
target/release/custody key init
echo >&2
echo "demo: ingest: copy while hashing, re-verify from disk, probe, sign, log, catalog" >&2
# The recorder's clock runs on local time (UTC+1): the file names' times
# become UTC start times, which the report and the access overlay show.
target/release/custody ingest demo-out/recorder --store "$store" --station dock-07 --operator demo \
  --utc-offset +01:00
echo >&2
echo "demo: ingest again: everything is already registered, nothing is copied into the store" >&2
target/release/custody ingest demo-out/recorder --store "$store" --station dock-07 | tail -1
echo >&2
echo "demo: supervision report" >&2
target/release/custody report --store "$store"
echo >&2
echo "demo: officer 012345 on 2026-11-29, from the catalog" >&2
target/release/custody catalog list --store "$store" --officer 012345 --day 2026-11-29
echo >&2
echo "demo: archive one registered recording as a preservation master (FFV1, proven identical" >&2
echo "      picture for picture) and an access copy (H.264 with the UTC time, device and officer" >&2
echo "      burned in; lossy, proven picture count and timing), each registered in the store as a" >&2
echo "      derivative: its own object, a signed manifest naming the source, a custody-log entry" >&2
mkdir -p demo-out/archive
target/release/custody archive "$first" --profile preservation -o demo-out/archive/ \
  --store "$store" --station dock-07 --operator demo
target/release/custody archive "$first" --profile access --preset veryfast --overlay -o demo-out/archive/ \
  --store "$store" --station dock-07 --operator demo
ffmpeg -nostdin -hide_banner -loglevel error -y -ss 5 \
  -i "demo-out/archive/$(basename "${first%.*}").access.mp4" -frames:v 1 demo-out/archive/access-frame.png
echo "demo: a picture of the access copy, with its overlay: demo-out/archive/access-frame.png" >&2
echo >&2
echo "demo: verify the store (read-only: keys, signed log, manifests, objects, cross-checks," >&2
echo "      and each derivative's link to its registered source)" >&2
target/release/custody verify --store "$store"
echo >&2
echo "demo: the log's signed head, kept elsewhere as an anchor; verify against it" >&2
target/release/custody log anchor --store "$store" > demo-out/anchor.json
cat demo-out/anchor.json
target/release/custody verify --store "$store" --anchor demo-out/anchor.json | tail -1
echo >&2
echo "demo: one byte of one stored object flipped: verify names the object and its 64 KiB range" >&2
obj=$(find "$store/objects" -type f ! -name '*.b3tree' -size +300k | head -1)
chmod u+w "$obj"
printf '\xff' | dd of="$obj" bs=1 seek=200000 conv=notrunc status=none
target/release/custody verify --store "$store" || echo "(exit $?: verification failed, as it must)" >&2
