#!/bin/sh
# Burned-in text cleaning throughput (issues 6, 12): US 640x480 RGB with text, CT 512x512 and
# MR 256x256 without, through PixelCleaner::clean with 2 threads; CT/MR with the text screen
# (pixels.screen_all_images) off and on, interleaved and repeated (medians); the screen's CPU time
# per instance (one thread) and its first pass alone, also on frames of 12-bit uniform noise (what
# `deid-generate ct` writes for bench/scrub_throughput.sh); the de-identification stage
# (InstanceDeidentifier::process_file, files in /dev/shm) off and on. Then what the screen's first
# pass flags on real anatomy (tests/data/corpus, tests/data/pixels/anatomy, and every CT, MR, CR,
# MG, NM and DX file listed in CORPUS_MANIFEST, a MANIFEST.tsv of a third-party corpus such as
# ../shared/corpus/MANIFEST.tsv) and on the planted-text corpus. Last, the user CPU time
# (/usr/bin/time) of `deid-gateway scrub` with "pixels": {"screen_all_images": true} and false on
# `deid-generate ct --count 500 --size 64` and `--count 200 --size 512` (GATEWAY_RUNS runs each,
# interleaved, default 7; medians).
# Usage: [CORPUS_MANIFEST=path/MANIFEST.tsv] [GATEWAY_RUNS=N] bench/pixels_bench.sh [BUILD_DIR] [US_N] [CT_N] [REPEATS]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
cmake --build "$build" --target pixels_bench test_deid_pixels deid-gateway deid-generate >/dev/null
"$build/bin/pixels_bench" "${2:-100}" "${3:-300}" "${4:-5}"
list=$(mktemp)
work=$(mktemp -d "$( [ -d /dev/shm ] && echo /dev/shm || echo /tmp )/pixels-gw-XXXXXX")
trap 'rm -f "$list"; rm -rf "$work"' EXIT
if [ -n "$CORPUS_MANIFEST" ] && [ -f "$CORPUS_MANIFEST" ]; then
  dir=$(cd "$(dirname "$CORPUS_MANIFEST")" && pwd)
  awk -F'\t' -v d="$dir" 'NR > 1 && ($7 == "CT" || $7 == "MR" || $7 == "CR" || $7 == "MG" || $7 == "NM" || $7 == "DX") { print d "/" $1 }' \
    "$CORPUS_MANIFEST" > "$list"
fi
DEID_FIRST_PASS_FILES=$list "$build/bin/test_deid_pixels" "[first-pass]" 2>/dev/null | grep -E "^(anatomy|planted|  missed)"

# The gateway's own CPU for the screen: scrub of generated CT, screen on and off, interleaved.
runs=${GATEWAY_RUNS:-7}
"$build/bin/deid-generate" ct --count 500 --size 64 --out "$work/small" >/dev/null
"$build/bin/deid-generate" ct --count 200 --size 512 --out "$work/large" >/dev/null
for v in true false; do
  mkdir -p "$work/state_$v"
  printf '{"state_dir": "%s", "http": {"port": 0}, "pixels": {"screen_all_images": %s}}\n' "$work/state_$v" "$v" > "$work/c_$v.json"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "gateway scrub, user CPU (/usr/bin/time), $runs runs each interleaved; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for set in small large; do
  for v in true false; do : > "$work/t_${set}_$v"; done
  for r in $(seq "$runs"); do
    for v in true false; do
      rm -rf "$work/out"
      /usr/bin/time -f %U -a -o "$work/t_${set}_$v" "$build/bin/deid-gateway" scrub --config "$work/c_$v.json" \
        --out "$work/out" "$work/$set" >/dev/null 2>&1
    done
  done
  n=$(ls "$work/$set" | wc -l)
  size=$([ "$set" = small ] && echo 64 || echo 512)
  on=$(median < "$work/t_${set}_true"); off=$(median < "$work/t_${set}_false")
  echo "  $n CT ${size}x${size}: screen on $on s, off $off s user (median; on: $(tr '\n' ' ' < "$work/t_${set}_true")| off: $(tr '\n' ' ' < "$work/t_${set}_false"))"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
