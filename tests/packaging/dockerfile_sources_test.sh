#!/usr/bin/env bash
# docker/Dockerfile copies its sources folder by folder (so that a change of the docs does not
# rebuild the programs): every folder the top-level CMakeLists.txt adds must have its COPY line,
# or the image build stops at cmake's configure step. No Docker needed.
set -euo pipefail
: "${SOURCE_DIR:?}"
folders=$(sed -n 's/^ *add_subdirectory(\([A-Za-z0-9_/-]*\)).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
[ -n "$folders" ] || { echo "FAIL: no add_subdirectory in CMakeLists.txt"; exit 1; }
missing=()
for f in $folders; do
  grep -Eq "^COPY $f $f/?\$" "$SOURCE_DIR/docker/Dockerfile" || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] || { echo "FAIL: docker/Dockerfile does not COPY: ${missing[*]}"; exit 1; }
echo "PASS: docker/Dockerfile copies all $(echo "$folders" | wc -w) source folders"
