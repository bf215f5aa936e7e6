#!/usr/bin/env bash
# .dockerignore keeps a used working copy's state out of the image build context: a copy of the
# sources with planted state (var/ with a keystore, spool and outbox, a state folder elsewhere,
# an exported map, a build tree, .git) is sent to Docker as a build context (FROM scratch,
# COPY . /ctx) and the resulting files are listed. Needs a Docker engine; exits 77 (skipped)
# when none answers.
set -euo pipefail
: "${SOURCE_DIR:?}"
command -v docker > /dev/null && timeout 20 docker info > /dev/null 2>&1 || { echo "SKIP: no Docker engine answers"; exit 77; }
tmp=$(mktemp -d)
tag="deid-context-check:$$"
trap 'docker rm -f "ctx-$$" > /dev/null 2>&1 || true; docker rmi -f "$tag" > /dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ctx="$tmp/ctx"
mkdir -p "$ctx"
(cd "$SOURCE_DIR" && git ls-files -z | xargs -0 cp --parents -t "$ctx")
cp "$SOURCE_DIR/.dockerignore" "$ctx/"
# What a used working copy holds (the planted values are not real PHI).
mkdir -p "$ctx/var/keystore" "$ctx/var/spool/incoming" "$ctx/var/outbox/1.2/3.4" "$ctx/site-state/keystore" \
         "$ctx/site-state/spool/incoming" "$ctx/site-state/quarantine/parse" "$ctx/build/bin" "$ctx/.git" "$ctx/var/run"
echo secret > "$ctx/var/keystore/secret.key"
echo db > "$ctx/var/keystore/keystore.db"; echo wal > "$ctx/var/keystore/keystore.db-wal"
echo original > "$ctx/var/spool/incoming/1-1-aa_4354.dcm"
echo out > "$ctx/var/outbox/1.2/3.4/5.6.dcm"
echo db > "$ctx/site-state/keystore/keystore.db"; echo k > "$ctx/site-state/keystore/secret.key"
echo original > "$ctx/site-state/spool/incoming/2-1-bb_4354.dcm"
echo original > "$ctx/site-state/quarantine/parse/3-1-cc.dcm"
echo "P-0001,ANON-1" > "$ctx/map-export.csv"
echo bin > "$ctx/build/bin/deid-gateway"; echo git > "$ctx/.git/HEAD"
printf 'FROM scratch\nCOPY . /ctx\n' > "$tmp/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -f "$tmp/Dockerfile" -t "$tag" "$ctx" > /dev/null 2> "$tmp/build.log" \
  || { cat "$tmp/build.log"; fail "docker build"; }
docker create --name "ctx-$$" "$tag" /none > /dev/null
docker export "ctx-$$" | tar -t | sed -n 's|^ctx/||p' > "$tmp/files"
echo "context: $(grep -vc '/$' "$tmp/files") files"
leaked=$(grep -E '(^|/)(var|build|\.git)/|secret\.key|keystore\.db|\.csv$|site-state/(keystore|spool|quarantine)/.' "$tmp/files" || true)
[ -z "$leaked" ] || fail "in the build context: $leaked"
# Every tracked file is there (the build needs the sources; spool/ is a source folder too).
missing=$(cd "$SOURCE_DIR" && git ls-files | grep -vxF -f "$tmp/files" || true)
[ -z "$missing" ] || fail "missing from the build context: $(echo "$missing" | head -5 | tr '\n' ' ')"
echo "all $(cd "$SOURCE_DIR" && git ls-files | wc -l) tracked files are in it"
echo "PASS"
