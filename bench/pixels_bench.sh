#!/bin/sh
# Burned-in text cleaning throughput (issues 6, 12): US 640x480 RGB with text, CT 512x512 and
# MR 256x256 without, through PixelCleaner::clean with 2 threads; CT/MR with the text screen
# (pixels.screen_all_images) off and on, interleaved and repeated (medians); the screen's CPU time
# per instance (one thread) and its first pass alone, also on frames of 12-bit uniform noise (what
# `deid-generate ct` writes for bench/scrub_throughput.sh); the de-identification stage
# (InstanceDeidentifier::process_file, files in /dev/shm) off and on. Then what the screen's first
# pass flags on real anatomy (tests/data/corpus, tests/data/pixels/anatomy, and every CT, MR, CR,
# MG, NM and DX file listed in CORPUS_MANIFEST, a MANIFEST.tsv of a third-party corpus such as
# ../shared/corpus/MANIFEST.tsv) and on the planted-text corpus.
# Usage: [CORPUS_MANIFEST=path/MANIFEST.tsv] bench/pixels_bench.sh [BUILD_DIR] [US_N] [CT_N] [REPEATS]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
cmake --build "$build" --target pixels_bench test_deid_pixels >/dev/null
"$build/bin/pixels_bench" "${2:-100}" "${3:-300}" "${4:-5}"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
if [ -n "$CORPUS_MANIFEST" ] && [ -f "$CORPUS_MANIFEST" ]; then
  dir=$(cd "$(dirname "$CORPUS_MANIFEST")" && pwd)
  awk -F'\t' -v d="$dir" 'NR > 1 && ($7 == "CT" || $7 == "MR" || $7 == "CR" || $7 == "MG" || $7 == "NM" || $7 == "DX") { print d "/" $1 }' \
    "$CORPUS_MANIFEST" > "$list"
fi
DEID_FIRST_PASS_FILES=$list "$build/bin/test_deid_pixels" "[first-pass]" 2>/dev/null | grep -E "^(anatomy|planted|  missed)"
