#!/usr/bin/env bash
# Not a test: de-identifies the same inputs with one build's `deid-gateway scrub`, so that the
# outputs of two builds can be compared byte for byte after a change that must not alter them
# (issue 16's CPU work: "same checks, same output bytes").
#
#   bench/scrub_outputs.sh BUILD_DIR WORK_DIR NAME
#
# The first run in WORK_DIR makes the inputs (60 CT 64x64 from deid-generate ct, the PHI corpus
# from deid-generate phi, the adversarial corpus from deid-adversarial) and the keystore state
# (its secret, so both builds give the same pseudonyms); every run writes WORK_DIR/NAME/<corpus>-
# <profile>/ and a summary line per corpus and profile (scrubbed, rejected, failed), for two
# profiles: the default one and full dates + device + institution identity. Then:
#   diff -r WORK_DIR/before WORK_DIR/after && echo identical
set -euo pipefail
BUILD=${1:?build dir}
WORK=${2:?work dir}
NAME=${3:?name}
BIN=$BUILD/bin
for x in deid-gateway deid-keystore deid-generate deid-adversarial; do
  [[ -x $BIN/$x ]] || { echo "missing $BIN/$x (scrub starts the keystore broker from the same folder)" >&2; exit 2; }
done
mkdir -p "$WORK"
if [[ ! -d $WORK/inputs ]]; then
  mkdir -p "$WORK/inputs.tmp"
  "$BIN/deid-generate" ct --count 60 --size 64 --out "$WORK/inputs.tmp/ct" >/dev/null
  "$BIN/deid-generate" phi --out "$WORK/inputs.tmp/phi" --key "$WORK/inputs.tmp/phi-key.json" >/dev/null
  "$BIN/deid-adversarial" --out "$WORK/inputs.tmp/adversarial" --key "$WORK/inputs.tmp/adversarial-key.json" >/dev/null
  mv "$WORK/inputs.tmp" "$WORK/inputs"
fi
cat >"$WORK/default.json" <<JSON
{"state_dir": "$WORK/state", "http": {"port": 0}, "pixels": {"screen_all_images": false}}
JSON
cat >"$WORK/identity.json" <<JSON
{"state_dir": "$WORK/state", "http": {"port": 0}, "pixels": {"screen_all_images": false},
 "profile": {"options": ["retain_long_full_dates", "retain_device_identity", "retain_institution_identity",
                         "clean_descriptors", "clean_structured_content", "clean_graphics", "clean_pixel_data"]}}
JSON
rm -rf "${WORK:?}/$NAME"
mkdir -p "$WORK/$NAME"
for corpus in ct phi adversarial; do
  for profile in default identity; do
    out="$WORK/$NAME/$corpus-$profile"
    # (scrub exits non-zero when an instance failed: the summary says how many)
    summary=$("$BIN/deid-gateway" scrub --config "$WORK/$profile.json" --out "$out" "$WORK/inputs/$corpus" 2>&1 | tail -1 || true)
    echo "$corpus $profile: $summary" | tee -a "$WORK/$NAME/summary.txt"
  done
done
