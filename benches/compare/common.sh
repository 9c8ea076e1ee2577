# Shared by the side-by-side scripts: strict mode (also inside command
# substitutions) and a timer that fails loudly when the timed command fails,
# so a failure is never reported as a fast run.
set -euo pipefail
shopt -s inherit_errexit

# Wall time of one run of a command in microseconds; its output is discarded.
# A command that exits non-zero stops the script with its stderr shown.
run_us() {
  local s e err
  err=$(mktemp)
  s=$(date +%s%N)
  if ! "$@" >/dev/null 2>"$err"; then
    echo "bench: failed: $*" >&2
    tail -20 "$err" >&2
    rm -f "$err"
    exit 1
  fi
  e=$(date +%s%N)
  rm -f "$err"
  echo $(( (e - s) / 1000 ))
}

# Writes SIZE_MB MiB of incompressible bytes (AES-CTR keystream seeded by
# PASS) to FILE, and checks the size written.
random_file() {
  local file=$1 size_mb=$2 pass=$3
  # openssl ends on SIGPIPE when head has enough: that status is expected.
  { openssl enc -aes-128-ctr -nosalt -pass pass:"$pass" -in /dev/zero 2>/dev/null || true; } \
    | head -c $((size_mb * 1048576)) > "$file"
  [ "$(stat -c %s "$file")" = $((size_mb * 1048576)) ] || { echo "bench: could not write $file" >&2; exit 1; }
}
