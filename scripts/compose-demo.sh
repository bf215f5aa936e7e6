#!/usr/bin/env bash
# Runs the compose demo end to end (docker/compose.yaml): builds the images (the gateway's and an
# Orthanc one), starts hospital PACS -> gateway -> research PACS, uploads one test study to the
# hospital PACS, sends it to the gateway with ONE REST call, waits for it at the research PACS and
# checks that it arrived de-identified and that the container's HEALTHCHECK (/readyz) says healthy.
# Prints the gateway image's size and user. Stops and removes the stack (and its volume) at the
# end. Needs Docker; installs docker-compose when missing.
#   scripts/compose-demo.sh            (BASE=debian:12 from a registry, else the debootstrap base)
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
docker info > /dev/null 2>&1 || { echo "compose-demo: no Docker engine answers (docker info)"; exit 1; }
if docker compose version > /dev/null 2>&1; then compose=(docker compose)
else
  command -v docker-compose > /dev/null 2>&1 ||
    $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-compose > /dev/null
  compose=(docker-compose)
fi
# The base image: a registry's debian:12 when there is one, else the debootstrap-built one.
if [ -z "${BASE:-}" ]; then
  if docker image inspect debian:12 > /dev/null 2>&1 || docker pull -q debian:12 > /dev/null 2>&1; then BASE=debian:12
  else
    BASE=deid-base:12
    docker image inspect "$BASE" > /dev/null 2>&1 || scripts/build-base-image.sh "$BASE"
  fi
fi
export BASE
project="deid-demo-$$"
dc() { "${compose[@]}" -p "$project" -f docker/compose.yaml "$@"; }
cleanup() { dc down -v --remove-orphans > /dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "compose-demo: FAIL: $*" >&2; dc logs --tail 30 >&2 || true; exit 1; }
# Waits (bounded) until a command succeeds.
wait_for() { local limit=$1; shift; for _ in $(seq $((limit * 2))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }

echo "compose-demo: building the images on $BASE"
dc build > /tmp/compose-demo-build.$$.log 2>&1 || { tail -30 /tmp/compose-demo-build.$$.log; fail "build"; }
rm -f /tmp/compose-demo-build.$$.log
size=$(docker image inspect -f '{{.Size}}' deid-gateway)
user=$(docker image inspect -f '{{.Config.User}}' deid-gateway)
echo "compose-demo: image deid-gateway: $((size / 1000000)) MB, user '$user', healthcheck: $(docker image inspect -f '{{join .Config.Healthcheck.Test " "}}' deid-gateway)"
[ "$size" -lt 400000000 ] || fail "the gateway image is $((size / 1000000)) MB, over 400 MB"
[ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ] || fail "the gateway image runs as root"
# The runtime image holds runtime libraries only: no compiler, build tool, Orthanc or Java.
extra=$(docker run --rm --entrypoint /bin/sh deid-gateway -c \
  'for t in cc gcc c++ g++ cmake make Orthanc java dpkg-shlibdeps; do command -v $t; done; id -u' 2>&1)
[ "$(echo "$extra" | tail -1)" != 0 ] || fail "the container's user is root"
[ "$(echo "$extra" | wc -l)" -eq 1 ] || fail "build tools in the runtime image: $(echo "$extra" | head -n -1 | tr '\n' ' ')"
echo "compose-demo: runtime image: no compiler, cmake, make, Orthanc or Java; runs as uid $(echo "$extra" | tail -1)"

dc up -d > /dev/null 2>&1 || fail "compose up"
hospital=http://127.0.0.1:18042 research=http://127.0.0.1:18043
wait_for 60 curl -fsS "$hospital/system" || fail "the hospital PACS does not answer"
wait_for 60 curl -fsS "$research/system" || fail "the research PACS does not answer"
input=tests/data/corpus/pydicom/CT_small.dcm
curl -fsS -X POST "$hospital/instances" --data-binary @"$input" > /dev/null || fail "upload to the hospital PACS"
study=$(curl -fsS "$hospital/studies" | tr -d '[]" \n' | cut -d, -f1)
[ -n "$study" ] || fail "no study at the hospital PACS"
# The gateway must be listening before the REST call (its own broker starts first).
wait_for 90 curl -fsS -X POST "$hospital/modalities/gateway/echo" -d '{}' || fail "the gateway does not answer C-ECHO"

echo "compose-demo: one REST call: POST /modalities/gateway/store $study"
curl -fsS -X POST "$hospital/modalities/gateway/store" -d "$study" > /dev/null || fail "C-STORE to the gateway"
arrived() { [ "$(curl -fsS "$research/instances" | tr -d '[] \n')" != "" ]; }
wait_for 120 arrived || fail "nothing arrived at the research PACS"
instance=$(curl -fsS "$research/instances" | tr -d '[]" \n' | cut -d, -f1)
tags=$(curl -fsS "$research/instances/$instance/simplified-tags")
original=$(curl -fsS "$hospital/instances/$(curl -fsS "$hospital/instances" | tr -d '[]" \n' | cut -d, -f1)/simplified-tags")
field() { echo "$1" | grep -o "\"$2\" *: *\"[^\"]*\"" | head -1 | sed 's/.*: *"\(.*\)"/\1/'; }
echo "compose-demo: at the research PACS: PatientID $(field "$tags" PatientID), PatientIdentityRemoved $(field "$tags" PatientIdentityRemoved)"
case "$(field "$tags" PatientID)" in ANON-*) ;; *) fail "the research PACS got Patient ID '$(field "$tags" PatientID)', not a pseudonym" ;; esac
[ "$(field "$tags" PatientIdentityRemoved)" = YES ] || fail "Patient Identity Removed is not YES"
for key in PatientName PatientID StudyInstanceUID SOPInstanceUID; do
  value=$(field "$original" "$key")
  if [ -n "$value" ] && echo "$tags" | grep -qF "$value"; then fail "the original $key reached the research PACS"; fi
done
# The HEALTHCHECK (curl /readyz inside the container): healthy once a probe passed (start period
# 30 s, every 15 s), so bounded at 90 s.
container=$(dc ps -q gateway)
health() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$container"; }
healthy() { [ "$(health)" = healthy ]; }
wait_for 90 healthy || fail "the gateway container is '$(health)', not healthy: $(docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$container" | tail -3)"
echo "compose-demo: gateway container health: $(health) (HEALTHCHECK on /readyz)"
echo "compose-demo: PASS: the study arrived de-identified at the research PACS"
