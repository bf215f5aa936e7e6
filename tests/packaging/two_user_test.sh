#!/usr/bin/env bash
# The two-user deployment of docs/keystore.md, with users made here: the broker runs as one user,
# the gateway as another, each with the shipped config (packaging/config/*.json, paths moved under
# a temporary folder). Checks what used to fail as documented: a broker user outside the socket
# group cannot start (and leaves no stale socket), the socket folder must exist beforehand; then
# with the documented setup one instance sent with storescu arrives de-identified, and the gateway
# user cannot read the keystore. Needs root (useradd); exits 77 (skipped) otherwise.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root to create the two users (useradd)"; exit 77; fi
for tool in useradd setpriv storescu echoscu dcmdump; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
bin="$BUILD_DIR/bin"
tag=$$
broker_user="dk$tag"; gateway_user="dg$tag"; socket_group="db$tag"
tmp=$(mktemp -d)
chmod 0755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  userdel "$broker_user" 2>/dev/null || true
  userdel "$gateway_user" 2>/dev/null || true
  groupdel "$socket_group" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done >&2
  exit 1
}
# Waits (bounded) for a command to succeed.
wait_for() { local limit=$1; shift; for _ in $(seq $((limit * 10))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
# Runs a command as user $1 (setpriv execs it: a background job's $! is the command's own pid).
as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }

groupadd --system "$socket_group"
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$broker_user"
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin -G "$socket_group" "$gateway_user"

# The shipped configs, with /var/lib and /run moved under $tmp, a free DICOM port and the HTTP
# endpoint off (http.port 0: the default 11180 may be taken by another gateway on this machine).
# A port nothing listens on (lsof, from install-deps.sh), in the ephemeral range.
for _ in $(seq 50); do
  port=$((32768 + RANDOM % 28000))
  lsof -nP -iTCP:"$port" -sTCP:LISTEN > /dev/null 2>&1 || break
done
for conf in broker gateway; do
  sed -e "s|\"/var/lib/|\"$tmp/var/lib/|" -e "s|\"/run/|\"$tmp/run/|" -e "s|\"port\": 11112|\"port\": $port|" \
    "$SOURCE_DIR/packaging/config/$conf.json" > "$tmp/$conf.json"
done
sed -i 's|^\(  "state_dir": .*\)$|\1\n  "http": { "port": 0 },|' "$tmp/gateway.json"
grep -q '"http": { "port": 0 }' "$tmp/gateway.json" || fail "could not turn the HTTP endpoint off in gateway.json"
socket="$tmp/run/deid-keystore/keystore.sock"
grep -q "\"$socket\"" "$tmp/broker.json" && grep -q "\"$socket\"" "$tmp/gateway.json" || fail "configs do not share the socket"
mkdir -p "$tmp/var/lib" "$tmp/run"
# Step 1 of docs/keystore.md: the state folders, owner-only.
install -d -o "$broker_user" -g "$broker_user" -m 0700 "$tmp/var/lib/deid-keystore"
install -d -o "$gateway_user" -g "$gateway_user" -m 0700 "$tmp/var/lib/deid-gateway"

# Starts the broker as the broker user, expecting it to stop at once with exit 2 and a message
# containing $2 (log in $tmp/$1.log).
expect_broker_refusal() {
  local name=$1 message=$2 rc=0
  as_user "$broker_user" "$bin/deid-keystore" serve --config "$tmp/broker.json" --socket-group "$socket_group" \
    > "$tmp/$name.log" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || fail "$name: broker exit $rc, expected 2"
  grep -q "$message" "$tmp/$name.log" || fail "$name: no clear error: $(cat "$tmp/$name.log")"
}

# Without the socket folder the broker (not root) cannot make it in a root-owned /run: a clear error.
expect_broker_refusal no-folder "cannot create the socket folder"

# The socket folder exists beforehand (systemd's RuntimeDirectory= in the unit; by hand, as here).
install -d -o "$broker_user" -g "$socket_group" -m 0710 "$tmp/run/deid-keystore"

# As documented before: the broker user is NOT in the socket group. It cannot give the socket to
# the group, fails with exit 2 naming that, and leaves no stale socket behind.
expect_broker_refusal not-in-group "cannot give the socket to the socket group"
[ ! -e "$socket" ] || fail "a failed start left a stale socket at $socket"

# The fix in docs/keystore.md (step 2): the broker user is a member of the socket group too.
usermod -a -G "$socket_group" "$broker_user"
setpriv --reuid="$broker_user" --regid="$broker_user" --init-groups -- \
  "$bin/deid-keystore" serve --config "$tmp/broker.json" --socket-group "$socket_group" > "$tmp/broker.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")
# The gateway user reaches the broker through the group (health waits for the broker to answer).
as_user "$gateway_user" "$bin/deid-keystore" health --config "$tmp/gateway.json" --wait 30 > "$tmp/health.log" 2>&1 \
  || fail "the gateway user cannot reach the broker: $(cat "$tmp/health.log")"
[ "$(stat -c '%a %G' "$socket")" = "660 $socket_group" ] || fail "socket is $(stat -c '%a %G' "$socket")"
# ... and cannot read the keystore.
if as_user "$gateway_user" ls "$tmp/var/lib/deid-keystore/keystore" > /dev/null 2>&1; then fail "gateway user can list the keystore"; fi
if as_user "$gateway_user" cat "$tmp/var/lib/deid-keystore/keystore/secret.key" > /dev/null 2>&1; then fail "gateway user can read the key"; fi
[ "$(stat -c %U "$tmp/var/lib/deid-keystore/keystore/keystore.db")" = "$broker_user" ] || fail "keystore not owned by the broker user"

setpriv --reuid="$gateway_user" --regid="$gateway_user" --init-groups -- \
  "$bin/deid-gateway" serve --config "$tmp/gateway.json" > "$tmp/gateway.log" 2>&1 &
gateway_pid=$!
pids+=("$gateway_pid")
wait_for 60 echoscu -aec DEIDGW 127.0.0.1 "$port" || fail "the gateway does not answer C-ECHO on $port"

input="$SOURCE_DIR/tests/data/corpus/pydicom/CT_small.dcm"
storescu -aec DEIDGW 127.0.0.1 "$port" "$input" > "$tmp/storescu.log" 2>&1 || fail "storescu"
outbox="$tmp/var/lib/deid-gateway/outbox"
found() { find "$outbox" -name '*.dcm' 2>/dev/null | grep -q .; }
wait_for 60 found || fail "no instance arrived in $outbox"
out=$(find "$outbox" -name '*.dcm' | head -1)
[ "$(stat -c %U "$out")" = "$gateway_user" ] || fail "output not written by the gateway user"
original_name=$(dcmdump +P PatientName "$input" | sed -n 's/.*\[\(.*\)\].*/\1/p')
original_id=$(dcmdump +P PatientID "$input" | sed -n 's/.*\[\(.*\)\].*/\1/p')
new_id=$(dcmdump +P PatientID "$out" | sed -n 's/.*\[\(.*\)\].*/\1/p')
[ -n "$original_name" ] && [ -n "$original_id" ] || fail "the input has no name/id to check"
case "$new_id" in ANON-*) ;; *) fail "output Patient ID is '$new_id', not a pseudonym" ;; esac
if dcmdump "$out" | grep -qF -e "$original_name" -e "$original_id"; then fail "the output still holds the original name or id"; fi
dcmdump +P 0012,0062 "$out" | grep -q YES && dcmdump +P 0012,0063 "$out" | grep -q "Basic Application Confidentiality Profile" \
  || fail "output not stamped with Patient Identity Removed and the profile"
# The broker recorded the issued mapping (audit list, as the broker user).
as_user "$broker_user" "$bin/deid-keystore" audit list --action issue --json --config "$tmp/broker.json" > "$tmp/audit.json" 2>"$tmp/audit.log" \
  || fail "audit list"
grep -Eq '"count": [1-9]' "$tmp/audit.json" || fail "no issue record in the audit log: $(cat "$tmp/audit.json")"

# Stop order of the units: the gateway first (it drains), then the broker; a clean stop removes the socket.
kill -TERM "$gateway_pid"; wait "$gateway_pid" || fail "gateway exit status $? on SIGTERM"
kill -TERM "$broker_pid"; wait "$broker_pid" || fail "broker exit status $? on SIGTERM"
pids=()
[ ! -e "$socket" ] || fail "the broker left its socket after a clean stop"
echo "PASS: one instance delivered de-identified ($new_id) by $gateway_user through the broker run by $broker_user"
