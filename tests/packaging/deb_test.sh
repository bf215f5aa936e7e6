#!/usr/bin/env bash
# CPack's DEB generator builds the package from the install rules into a temporary folder; its
# contents (dpkg-deb -c) hold the binaries in /usr/bin, the config in /etc as conffiles, the docs
# and the units, whose paths are those of the package (/usr/bin, /etc). Nothing is installed on
# this machine: the units are checked with `systemd-analyze verify --root` on the unpacked tree.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

(cd "$tmp" && cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$tmp/out" > "$tmp/cpack.log" 2>&1) \
  || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(find "$tmp/out" -maxdepth 1 -name 'deid-gateway_*.deb' | head -1)
[ -n "$deb" ] || { cat "$tmp/cpack.log"; fail "no .deb produced"; }
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes"

dpkg-deb -c "$deb" > "$tmp/contents"
cat "$tmp/contents"
for f in ./usr/bin/deid-gateway ./usr/bin/deid-keystore ./etc/deid-gateway/gateway.json ./etc/deid-gateway/broker.json \
         ./usr/lib/systemd/system/deid-gateway.service ./usr/lib/systemd/system/deid-keystore.service \
         ./usr/lib/sysusers.d/deid-gateway.conf ./usr/share/doc/deid-gateway/installation.md \
         ./usr/share/doc/deid-gateway/conformance-statement.md; do
  awk '{print $6}' "$tmp/contents" | grep -qx "$f" || fail "$f is not in the package"
done
if awk '{print $6}' "$tmp/contents" | grep -E 'keystore\.db|secret\.key|/var/|CMake|_CPack'; then fail "state or build files packaged"; fi
if awk '{print $6}' "$tmp/contents" | grep -E '^\./usr/etc/'; then fail "config under /usr/etc"; fi

dpkg-deb -I "$deb" > "$tmp/info"
grep -q '^ Depends:.*libdcmtk' "$tmp/info" || { cat "$tmp/info"; fail "Depends does not list the DCMTK library"; }
grep -q '^ Depends:.*tesseract-ocr-eng' "$tmp/info" || fail "Depends does not list tesseract-ocr-eng"
dpkg-deb -e "$deb" "$tmp/control"
grep -qx /etc/deid-gateway/gateway.json "$tmp/control/conffiles" || fail "gateway.json is not a conffile"
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no $s"; sh -n "$tmp/control/$s"; done

root="$tmp/root"
dpkg-deb -x "$deb" "$root"
grep -qx "ExecStart=/usr/bin/deid-gateway serve --config /etc/deid-gateway/gateway.json" \
  "$root/usr/lib/systemd/system/deid-gateway.service" || fail "gateway unit paths are not the package's"
grep -q "^ExecStart=/usr/bin/deid-keystore serve --config /etc/deid-gateway/broker.json" \
  "$root/usr/lib/systemd/system/deid-keystore.service" || fail "broker unit paths are not the package's"
# Debian 12 is merged-/usr: /lib -> usr/lib inside the root, as on the target machine, which also
# has systemd's own units (sysinit.target, ...): this machine's are copied in beside ours.
ln -s usr/lib "$root/lib"; ln -s usr/bin "$root/bin"; ln -s usr/sbin "$root/sbin"
cp -rn /usr/lib/systemd/system/. "$root/usr/lib/systemd/system/"
if ! systemd-analyze verify --root="$root" "$root/usr/lib/systemd/system/deid-keystore.service" \
      "$root/usr/lib/systemd/system/deid-gateway.service" > "$tmp/verify.log" 2>&1; then
  cat "$tmp/verify.log"; fail "systemd-analyze verify --root on the unpacked package"
fi
if grep -E 'deid-(gateway|keystore)\.service' "$tmp/verify.log"; then fail "systemd-analyze verify warned about the units"; fi
echo "PASS"
