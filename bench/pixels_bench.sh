#!/bin/sh
# Burned-in text cleaning throughput (issues 6, 12): US 640x480 RGB with text, CT 512x512 and
# MR 256x256 without, through PixelCleaner::clean with 2 threads; CT/MR with the text screen
# (pixels.screen_all_images) off and on, interleaved and repeated (medians).
# Usage: bench/pixels_bench.sh [BUILD_DIR] [US_N] [CT_N] [REPEATS]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-pixels}
cmake --build "$build" --target pixels_bench >/dev/null
"$build/bin/pixels_bench" "${2:-100}" "${3:-300}" "${4:-5}"
