#!/usr/bin/env bash
# Builds the Debian package with CPack (DEB) from the install rules (packaging/CMakeLists.txt) into
# build/packages/ and lists its contents and control fields. Installs nothing on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
out="$PWD/build/packages"
mkdir -p "$out"
(cd build && cpack -G DEB --config CPackConfig.cmake -B "$out" > "$out/cpack.log") || { cat "$out/cpack.log"; exit 1; }
rm -rf "$out/_CPack_Packages"
deb=$(ls -t "$out"/deid-gateway_*.deb | head -1)
echo "== $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb -I "$deb"
echo "== contents"
dpkg-deb -c "$deb"
