#!/usr/bin/env bash
# Runs the packaged units under a real systemd: a container from the gateway image (docker/Dockerfile,
# tag deid-gateway, built first) plus Debian's systemd as PID 1. Starts deid-gateway.service (which
# pulls in deid-keystore.service), sends one instance with storescu, checks it arrived de-identified
# under the two users, then stops the broker and prints the journal lines that show the gateway
# stopping first. Needs Docker. Options a container cannot give (PrivateNetwork, ProtectHostname)
# are ignored by systemd there and listed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
docker image inspect deid-gateway > /dev/null 2>&1 || { echo "build the image first: docker build -f docker/Dockerfile -t deid-gateway ."; exit 1; }
tmp=$(mktemp -d)
tag="deid-systemd-check:$$"
cid=""
cleanup() { [ -n "$cid" ] && docker rm -f "$cid" > /dev/null 2>&1; docker rmi -f "$tag" > /dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "systemd-check: FAIL: $*" >&2; [ -n "$cid" ] && docker exec "$cid" journalctl --no-pager -n 30 >&2; exit 1; }
cat > "$tmp/Dockerfile" <<'DOCKERFILE'
FROM deid-gateway
USER root
RUN apt-get update && apt-get install -y --no-install-recommends systemd systemd-sysv dcmtk \
 && rm -rf /var/lib/apt/lists/* && systemd-sysusers /usr/lib/sysusers.d/deid-gateway.conf
ENTRYPOINT []
CMD ["/lib/systemd/systemd"]
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$tmp" > /dev/null
cid=$(docker run -d --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v /sys/fs/cgroup:/sys/fs/cgroup:rw "$tag")
inside() { docker exec "$cid" "$@"; }
for _ in $(seq 60); do inside systemctl is-system-running 2>/dev/null | grep -qE 'running|degraded' && break; sleep 0.5; done
inside systemctl start deid-gateway || fail "systemctl start deid-gateway"
inside systemctl is-active deid-keystore deid-gateway | tr '\n' ' '; echo "(deid-keystore, deid-gateway)"
for _ in $(seq 60); do inside echoscu -aec DEIDGW 127.0.0.1 11112 > /dev/null 2>&1 && break; sleep 0.5; done
docker cp tests/data/corpus/pydicom/CT_small.dcm "$cid:/root/ct.dcm"
inside storescu -aec DEIDGW 127.0.0.1 11112 /root/ct.dcm || fail "storescu"
out=""
for _ in $(seq 60); do out=$(inside find /var/lib/deid-gateway/outbox -name '*.dcm' 2>/dev/null | head -1); [ -n "$out" ] && break; sleep 0.5; done
[ -n "$out" ] || fail "nothing arrived in the outbox"
inside stat -c 'output owned by %U, mode %a' "$out"
inside dcmdump +P PatientID +P PatientIdentityRemoved "$out"
inside dcmdump +P PatientID "$out" | grep -q 'ANON-' || fail "the output's Patient ID is not a pseudonym"
inside stat -c '%n %U:%G %a' /var/lib/deid-keystore /var/lib/deid-gateway /run/deid-keystore /run/deid-keystore/keystore.sock
inside systemctl stop deid-keystore
inside journalctl -u deid-gateway -u deid-keystore --no-pager -o short-precise \
  | grep -E 'Stopping|Stopped|received SIGTERM|stopping on SIGTERM' | sed 's/^[A-Z][a-z]* [0-9]* //'
inside test ! -e /run/deid-keystore || fail "the socket folder outlived the broker"
echo "ignored in this container:"
inside journalctl --no-pager -u deid-gateway -u deid-keystore | grep -oE '[A-Za-z]+=yes is configured, but [^,]*' | sort -u | sed 's/^/  /'
echo "systemd-check: PASS"
