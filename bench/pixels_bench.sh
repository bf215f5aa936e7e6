#!/bin/sh
# Burned-in text cleaning throughput (issue 6): US 640x480 RGB with text, CT 512x512 without,
# through PixelCleaner::clean with 2 threads; CT off/on interleaved and repeated (medians).
# Usage: bench/pixels_bench.sh [BUILD_DIR] [US_N] [CT_N] [REPEATS]
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build-pixels}
cmake --build "$build" --target pixels_bench >/dev/null
"$build/bin/pixels_bench" "${2:-100}" "${3:-4000}" "${4:-7}"
