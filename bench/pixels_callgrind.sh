#!/bin/sh
# Where the pixel screen's cost goes in the de-identification stage (issue 12): instructions
# (valgrind --tool=callgrind, the same whatever the machine's load) of N instances of the
# bench's MR 256x256 (or CT 512x512) set through InstanceDeidentifier::process_file, one thread,
# pixels.screen_all_images off and on; only process_file is counted (--toggle-collect), so set-up
# and input generation are not. Prints instructions per instance of the stage, on, off and the
# difference, then the inclusive cost per instance of the functions named in FUNCS (grep -E
# patterns of callgrind_annotate's names) on and off.
# Usage: [FUNCS='regex'] bench/pixels_callgrind.sh [BUILD_DIR] [MODALITY] [N]   (defaults: build MR 40)
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
modality=${2:-MR}
n=${3:-40}
funcs=${FUNCS:-'PixelCleaner::clean\(|clean_pixels|Impl::clean_overlays|FrameCodec::open|FrameCodec::commit|ScopeRules::evaluate|OverlayPlanes::(embedded|read|groups)|TextScreen::text_areas\(cv::Mat const&, double|TextScreen::range_of|first_pass_areas|add_method_code|deid::verify|write_atomically|loadAllDataIntoMemory'}
command -v valgrind >/dev/null || { echo "missing valgrind" >&2; exit 2; }
cmake --build "$build" --target pixels_bench >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for v in off on; do
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$v" --toggle-collect='deid::InstanceDeidentifier::process_file*' \
    "$build/bin/pixels_bench" --stage "$modality" "$v" "$n" >/dev/null 2>&1 || { echo "pixels_bench --stage $modality $v: an instance was not clean" >&2; exit 1; }
  callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$work/cg.$v" 2>/dev/null > "$work/a.$v"
done
total() { awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }' "$1"; }
on=$(total "$work/a.on"); off=$(total "$work/a.off")
echo "$modality, $n instances through process_file, instructions per instance: screen off $((off / n)), on $((on / n)), on - off $(((on - off) / n))"
echo "inclusive instructions per instance, screen off / on (a function callgrind lists under several source files: the largest):"
tab=$(printf '\t')
for v in off on; do
  # "  123,456 (12.34%)  file:function [object]" -> "function<TAB>count", the largest count per function.
  sed -nE 's/^ *([0-9,]+) +\( *[0-9.]+%\) +(.*)$/\2\t\1/p' "$work/a.$v" | sed -E 's/ \[[^]]*\]\t/\t/; s/^[^:]*:([^:])/\1/' |
    grep -E "^[^$tab]*($funcs)" | awk -F"$tab" -v n="$n" '{ c = $2; gsub(",", "", c); c = int(c / n); if (c > m[$1]) m[$1] = c } END { for (f in m) print f "\t" m[f] }' |
    sort -t"$tab" -k1,1 > "$work/f.$v"
done
join -t"$tab" -a1 -a2 -e 0 -o 0,1.2,2.2 "$work/f.off" "$work/f.on" | sort -t"$tab" -k3,3nr |
  awk -F"$tab" '{ printf "  %8s %8s  %s\n", $2, $3, substr($1, 1, 100) }'
