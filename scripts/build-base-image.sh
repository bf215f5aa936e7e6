#!/usr/bin/env bash
# Builds the Debian 12 base image for docker/Dockerfile without a container registry: debootstrap
# (minbase variant) makes a root from the Debian archive, `docker import` turns it into an image.
#   scripts/build-base-image.sh [TAG]        (default deid-base:12; prints the image and its size)
# Then: docker build -f docker/Dockerfile --build-arg BASE=deid-base:12 -t deid-gateway .
# Needs root (debootstrap), Docker, and the Debian archive (as apt uses it). Installs debootstrap
# when it is missing.
set -euo pipefail
tag=${1:-deid-base:12}
if ! command -v debootstrap >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null
fi
# MIRROR: a Debian archive URL; empty: debootstrap's default (Debian's own archive).
mirror=${MIRROR:-}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "build-base-image: debootstrap bookworm (minbase) from ${mirror:-the default Debian archive}"
debootstrap --variant=minbase bookworm "$root" ${mirror:+"$mirror"} > "$root.log" 2>&1 \
  || { tail -20 "$root.log"; exit 1; }
rm -f "$root.log"
# Keep the image small and without this machine's traces: no package lists, no apt cache, no logs.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history
# Containers do not start services when packages are installed.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$tag" > /dev/null
echo "build-base-image: $tag, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}')"
