#!/usr/bin/env bash
# Benchmark (not a test): `deid-gateway scrub` vs PixelMed's DeidentifyAndRedact on the same
# generated CT instances (512x512, 16 bit), in the same run. Prints instances/s, MB/s, the ratio,
# and scrub's peak RSS at 250 and 1000 instances (memory must stay flat as the count grows).
#
# scrub runs with the config's default workers (2) and makes its outputs durable (one syncfs of
# the output folder before its summary, included in its time); PixelMed does not sync. The machine
# may be shared: check `uptime` and run it more than once, PixelMed's time varies most under load.
# It starts at least 300 s after the previous benchmark's clean-up (bench/settle.sh): file creation
# right after thousands of deletions is slow on this VM's ext4 and made scrub 1.7x PixelMed.
#
#   bench/scrub_throughput.sh [BUILD_DIR] [COUNT]     (defaults: build, 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
COUNT=${2:-1000}
SMALL=$((COUNT / 4))
BIN=$BUILD/bin
PIXELMED=/usr/share/java/pixelmed.jar
for x in "$BIN/deid-generate" "$BIN/deid-gateway" "$PIXELMED" /usr/bin/time; do
  [[ -e $x ]] || { echo "missing $x (build the project; install libpixelmed-java and time)" >&2; exit 2; }
done

source bench/settle.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deid-bench.XXXXXX")
trap 'rm -rf "$WORK"; settled' EXIT
"$BIN/deid-generate" ct --count "$COUNT" --size 512 --out "$WORK/in" >/dev/null
mkdir -p "$WORK/in_small"
# (no `ls | head` pipe: under pipefail, ls killed by SIGPIPE once head stops reading ended the script)
mapfile -t all_inputs < <(find "$WORK/in" -maxdepth 1 -type f -printf '%f\n' | sort)
for f in "${all_inputs[@]:0:SMALL}"; do ln "$WORK/in/$f" "$WORK/in_small/$f"; done
BYTES=$(du -sb "$WORK/in" | cut -f1)
printf '{"state_dir": "%s"}\n' "$WORK/state" >"$WORK/config.json"
: >"$WORK/empty-redaction.txt"

now() { date +%s.%N; }
# run NAME OUTDIR CMD...: wall seconds into $SECS, peak RSS (kB) into $RSS
run() {
  local name=$1 out=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  sync
  local t0 t1
  t0=$(now)
  if ! /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.log" 2>&1; then
    echo "$name failed; last lines of its output:" >&2; tail -n 20 "$WORK/$name.log" >&2; exit 1
  fi
  t1=$(now)
  SECS=$(echo "$t1 - $t0" | bc -l)
  RSS=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/$name.time")
  local files
  files=$(find "$out" -type f | wc -l)
  [[ $files -ge 1 ]] || { echo "$name wrote no output" >&2; exit 1; }
  OUTFILES=$files
}

# Warm the page cache and the JVM's jar once so both sides read from memory.
cat "$WORK"/in/* >/dev/null

run scrub_small "$WORK/out_small" "$BIN/deid-gateway" scrub --config "$WORK/config.json" --out "$WORK/out_small" "$WORK/in_small"
RSS_SMALL=$RSS
rm -rf "$WORK/state"
run scrub "$WORK/out_scrub" "$BIN/deid-gateway" scrub --config "$WORK/config.json" --out "$WORK/out_scrub" "$WORK/in"
SCRUB_SECS=$SECS; RSS_LARGE=$RSS; SCRUB_FILES=$OUTFILES
run pixelmed "$WORK/out_pixelmed" java -cp "$PIXELMED" com.pixelmed.apps.DeidentifyAndRedact \
  "$WORK/in" "$WORK/out_pixelmed" "$WORK/empty-redaction.txt" DECOMPRESS KEEPSAFEPRIVATE DONOTADDCONTRIBUTINGEQUIPMENT
PM_SECS=$SECS; PM_FILES=$OUTFILES

MB=$(echo "$BYTES / 1000000" | bc -l)
printf 'input: %d CT instances, 512x512x16 bit, %.1f MB\n' "$COUNT" "$MB"
printf 'deid-gateway scrub : %6.2f s  %8.1f instances/s  %7.1f MB/s  (%d files written)\n' \
  "$SCRUB_SECS" "$(echo "$COUNT / $SCRUB_SECS" | bc -l)" "$(echo "$MB / $SCRUB_SECS" | bc -l)" "$SCRUB_FILES"
printf 'PixelMed Deidentify: %6.2f s  %8.1f instances/s  %7.1f MB/s  (%d files written)\n' \
  "$PM_SECS" "$(echo "$COUNT / $PM_SECS" | bc -l)" "$(echo "$MB / $PM_SECS" | bc -l)" "$PM_FILES"
printf 'ratio scrub/PixelMed throughput: %.2fx (target >= 3x)\n' "$(echo "$PM_SECS / $SCRUB_SECS" | bc -l)"
printf 'scrub peak RSS: %d kB at %d instances, %d kB at %d instances\n' "$RSS_SMALL" "$SMALL" "$RSS_LARGE" "$COUNT"
