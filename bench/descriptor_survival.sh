#!/usr/bin/env bash
# Measurement (not a test): how much of the real descriptive text of the third-party corpus
# (tests/data/corpus, FILES.tsv) `deid-gateway scrub` keeps with the default profile: the words of
# Study / Series Description, Protocol Name, Image Comments, Performed Procedure Step Description,
# Requested Procedure Description and Body Part Examined (Code Meanings are not: the output adds
# its own, so values cannot be paired by position), before and
# after. A word survives when it is still in the output value of the same attribute (at the same
# position in the dump). Prints the words, the words that survive, and the values left whole, then
# the same for the attributes that are still in the output (what the text cleaner decided).
# SHOW=1 lists every cleaned value on stderr (third-party sample values, no PHI of real patients).
#
#   bench/descriptor_survival.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/bin
[[ -x $BIN/deid-gateway ]] || { echo "missing $BIN/deid-gateway (build the project)" >&2; exit 2; }
ROOT=tests/data/corpus
WORK=$(mktemp -d "${TMPDIR:-/tmp}/deid-survival.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
printf '{"state_dir": "%s"}\n' "$WORK/state" >"$WORK/config.json"
TAGS='0008,1030|0008,103e|0018,1030|0020,4000|0040,0254|0032,1060|0018,0015'

# The values of those attributes, one per line: "tag<TAB>value", in dump order.
values() {
  { dcmdump +U8 -q "$1" 2>/dev/null || true; } | { grep -E "^ *\(($TAGS)\) (LO|SH|LT|ST|CS|UT) \[" || true; } |
    sed -E 's/^ *\(([0-9a-f,]+)\) [A-Z]{2} \[(.*)\] *#.*$/\1\t\2/'
}

n=0
: >"$WORK/pairs"
while IFS=$'\t' read -r rel expect; do
  [[ $expect == well-formed ]] || continue
  n=$((n + 1))
  out="$WORK/out$n"
  "$BIN/deid-gateway" scrub --config "$WORK/config.json" --out "$out" "$ROOT/$rel" >/dev/null 2>&1 || true
  f=$(find "$out" -type f -name '*.dcm' | head -n 1)
  [[ -n $f ]] || continue
  # Pair the k-th value of each tag in the input with the k-th of the same tag in the output.
  values "$ROOT/$rel" | awk -F'\t' '{k[$1]++; print $1 "#" k[$1] "\t" $2}' | sort >"$WORK/in.txt"
  values "$f" | awk -F'\t' '{k[$1]++; print $1 "#" k[$1] "\t" $2}' | sort >"$WORK/out.txt"
  join -t $'\t' -a 1 "$WORK/in.txt" "$WORK/out.txt" >>"$WORK/pairs" || true
done <"$ROOT/FILES.tsv"

awk -F'\t' -v files="$n" '
  {
    split($2, w, /[ ^\\]+/); nw = 0; kept = 0
    out = " " $3 " "
    gsub(/[\\^]/, " ", out)
    for (i in w) if (w[i] != "") { nw++; if (index(out, " " w[i] " ") > 0) kept++ }
    if (nw == 0) next
    values++; words += nw; survived += kept
    if (kept == nw) whole++
    if (NF >= 3) { present++; pwords += nw; pkept += kept }  # the attribute is still in the output
    else { for (i in w) if (w[i] != "") gone_words++ }
    if (NF >= 3 && kept < nw && show) print "cleaned: " $1 " [" $2 "] -> [" $3 "]" > "/dev/stderr"
  }
  END {
    printf "third-party corpus: %d files, %d descriptive values, %d words\n", files, values, words
    printf "words kept: %d (%.1f %%); values kept whole: %d (%.1f %%)\n", survived, 100 * survived / words, whole, 100 * whole / values
    printf "attributes the profile removes (not cleaned): %d values, %d words\n", values - present, gone_words
    printf "attributes kept or cleaned: %d values, %d words, %d kept (%.1f %%)\n", present, pwords, pkept, present ? 100 * pkept / pwords : 0
  }' show="${SHOW:-}" "$WORK/pairs"
