#!/usr/bin/env bash
# cmake --install into a temporary prefix: binaries, default config, docs, sysusers and the two
# systemd units land where GNUInstallDirs says; the units name that prefix's binaries and config,
# the config passes check-config, and both units pass `systemd-analyze verify` (which also checks
# that every ExecStart binary exists). Needs the built tree in BUILD_DIR.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD_DIR" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }

for f in bin/deid-gateway bin/deid-keystore \
         etc/deid-gateway/gateway.json etc/deid-gateway/broker.json \
         lib/systemd/system/deid-keystore.service lib/systemd/system/deid-gateway.service \
         lib/sysusers.d/deid-gateway.conf \
         share/doc/deid-gateway/README.md share/doc/deid-gateway/installation.md \
         share/doc/deid-gateway/keystore.md share/doc/deid-gateway/conformance-statement.md; do
  [ -e "$prefix/$f" ] || fail "$f was not installed"
done
[ -x "$prefix/bin/deid-gateway" ] && [ -x "$prefix/bin/deid-keystore" ] || fail "binaries not executable"
# Nothing of a working copy's state (var/, keystores, build trees) is installed.
if find "$prefix" \( -name 'keystore.db*' -o -name secret.key -o -name CMakeCache.txt -o -path '*/var/*' \) | grep -q .; then
  fail "installed state or build files: $(find "$prefix" -name 'keystore.db*' -o -name secret.key | head -3)"
fi

units="$prefix/lib/systemd/system"
grep -qx "ExecStart=$prefix/bin/deid-gateway serve --config $prefix/etc/deid-gateway/gateway.json" "$units/deid-gateway.service" \
  || fail "deid-gateway.service ExecStart does not name this prefix: $(grep ExecStart= "$units/deid-gateway.service")"
grep -q "^ExecStart=$prefix/bin/deid-keystore serve --config $prefix/etc/deid-gateway/broker.json --socket-group deid-broker$" \
  "$units/deid-keystore.service" || fail "deid-keystore.service ExecStart does not name this prefix"
# The stop order: the gateway is ordered after (and requires) the broker, so systemd stops it first.
grep -qx "Requires=deid-keystore.service" "$units/deid-gateway.service" || fail "gateway does not require the broker"
grep -q "^After=deid-keystore.service" "$units/deid-gateway.service" || fail "gateway not ordered after the broker"
# Two users, the broker in the socket group, the socket folder made by systemd.
grep -qx "User=deid-keystore" "$units/deid-keystore.service" && grep -qx "Group=deid-broker" "$units/deid-keystore.service" \
  && grep -qx "RuntimeDirectory=deid-keystore" "$units/deid-keystore.service" || fail "broker user/group/runtime dir"
grep -qx "User=deid-gateway" "$units/deid-gateway.service" && grep -qx "SupplementaryGroups=deid-broker" "$units/deid-gateway.service" \
  || fail "gateway user/group"
grep -qx "m deid-keystore  deid-broker" "$prefix/lib/sysusers.d/deid-gateway.conf" || fail "sysusers: broker not in the socket group"

# The shipped config is valid (the broker's too: same format).
for conf in gateway.json broker.json; do
  "$prefix/bin/deid-gateway" check-config --config "$prefix/etc/deid-gateway/$conf" > "$tmp/check.log" 2>&1 \
    || { cat "$tmp/check.log"; fail "check-config $conf"; }
done

# The container's configs too (docker/): the image and the compose demo start with them.
for conf in "$SOURCE_DIR/docker/container.json" "$SOURCE_DIR/docker/compose/gateway.json"; do
  "$prefix/bin/deid-gateway" check-config --config "$conf" > "$tmp/check.log" 2>&1 || { cat "$tmp/check.log"; fail "check-config $conf"; }
done

# systemd-analyze verify: syntax, directives, ExecStart binaries exist, dependencies load. The
# units' own folder is put first on the unit path so Requires=deid-keystore.service resolves to ours.
verify_out="$tmp/verify.log"
if ! SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify "$units/deid-keystore.service" "$units/deid-gateway.service" \
      > "$verify_out" 2>&1; then
  cat "$verify_out"; fail "systemd-analyze verify"
fi
# Any remark about our units is a failure too (verify exits 0 on some warnings).
if grep -E 'deid-(gateway|keystore)\.service' "$verify_out"; then fail "systemd-analyze verify warned about the units"; fi
echo "systemd-analyze verify: both units clean"
# systemd's own exposure score of the sandboxing (0 = fully sandboxed, 10 = none): at most 2.0.
for unit in deid-keystore deid-gateway; do
  line=$(systemd-analyze security --offline=yes "$units/$unit.service" 2>/dev/null | grep 'Overall exposure level' || true)
  echo "systemd-analyze security: ${line#→ }"
  score=$(echo "$line" | grep -oE '[0-9]+\.[0-9]+' | head -1)
  [ -n "$score" ] || fail "no exposure score for $unit"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "$unit exposure $score is over 2.0"
done
# A second install keeps an operator's edited config.
echo '{"state_dir": "/srv/edited"}' > "$prefix/etc/deid-gateway/gateway.json"
cmake --install "$BUILD_DIR" --prefix "$prefix" > "$tmp/install2.log"
grep -q /srv/edited "$prefix/etc/deid-gateway/gateway.json" || fail "a re-install replaced the operator's config"
echo "PASS"
