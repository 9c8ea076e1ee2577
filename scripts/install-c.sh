#!/usr/bin/env bash
# Builds the C library and installs it under PREFIX (default /usr/local):
#   PREFIX/lib/libcustody.so.VERSION (SONAME libcustody.so.MAJOR) and its links,
#   PREFIX/lib/libcustody.a, PREFIX/include/custody.h,
#   PREFIX/lib/pkgconfig/custody.pc
# Then: gcc prog.c $(pkg-config --cflags --libs custody).
# CUSTODY_PROFILE picks the cargo profile (default release); CUSTODY_NO_BUILD=1
# installs what that profile built already. CUSTODY_FEATURES=redact builds
# redaction in (custody_detect, custody_redact, detectors written in C; the
# library then links FFmpeg's), CUSTODY_FEATURES=models with the built-in face
# and plate detectors too. A library with redaction is installed with
# -DCUSTODY_REDACT in its pkg-config Cflags, which shows the header's
# redaction declarations.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
profile=${CUSTODY_PROFILE:-release}
if [ -z "${CUSTODY_NO_BUILD:-}" ]; then
  cargo build --profile "$profile" -p custody-ffi ${CUSTODY_FEATURES:+--features "$CUSTODY_FEATURES"} >&2
fi
target=${CARGO_TARGET_DIR:-target}
dir=$target/$profile
[ "$profile" = dev ] && dir=$target/debug
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
major=${version%%.*}
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$dir/libcustody_ffi.so" "$prefix/lib/libcustody.so.$version"
ln -sf "libcustody.so.$version" "$prefix/lib/libcustody.so.$major"
ln -sf "libcustody.so.$major" "$prefix/lib/libcustody.so"
install -m 0644 "$dir/libcustody_ffi.a" "$prefix/lib/libcustody.a"
install -m 0644 crates/custody-ffi/include/custody.h "$prefix/include/custody.h"
# Whether this library has redaction, from its own exported symbols.
cflags='-I${includedir}'
private='-lpthread -ldl -lm'
if nm -D --defined-only "$dir/libcustody_ffi.so" | grep -qw custody_redact; then
  cflags="$cflags -DCUSTODY_REDACT"
  private="$private -lavformat -lavfilter -lswscale -lavcodec -lavutil"
fi
cat >"$prefix/lib/pkgconfig/custody.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: custody
Description: Evidence-grade parsing, hashing and custody of law-enforcement recorder media
Version: $version
Libs: -L\${libdir} -lcustody
Libs.private: $private
Cflags: $cflags
PC
echo "installed custody $version under $prefix" >&2
