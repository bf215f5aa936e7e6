#!/usr/bin/env bash
# Installs what is missing, builds, and runs the gateway in the foreground with the embedded
# default config (127.0.0.1:11112 as DEIDGW, state under var/, output into var/outbox/).
# Ctrl-C stops it cleanly. Extra arguments go to `deid-gateway serve` (e.g. --config FILE).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
scripts/build.sh
exec build/bin/deid-gateway serve "$@"
