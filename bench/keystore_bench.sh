#!/usr/bin/env bash
# Keystore broker benchmark: fills a keystore with PATIENTS patients and UIDS UID mappings, starts
# `deid-keystore serve` on it and prints round trips per second (batches of 10 new UIDs, several
# client threads; new UIDs = write path, already-mapped UIDs = read path) and p50/p99 latency of
# lookups of existing mappings. Figures depend on what else runs on the machine: note the load.
#   bench/keystore_bench.sh [PATIENTS [UIDS [THREADS]]]      defaults: 1000000 50000000 4
# Full size needs about 12 GB under $BENCH_DIR (default /work/tmp) and 10-15 minutes.
# Targets (issue 4): >= 20,000 batched requests/s, p99 lookup latency < 1 ms.
set -euo pipefail
PATIENTS=${1:-1000000}
UIDS=${2:-50000000}
THREADS=${3:-4}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BIN=$BUILD/bin
cmake --build "$BUILD" --target deid-keystore keystore-bench -j2 >/dev/null
BENCH_DIR=${BENCH_DIR:-/work/tmp}
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/keystore-bench.XXXXXX")
BROKER_PID=
cleanup() {
  if [[ -n "$BROKER_PID" ]]; then kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
echo "{\"state_dir\": \"$WORK/var\"}" > "$WORK/config.json"
echo "== keystore bench: $PATIENTS patients, $UIDS UID mappings, $THREADS client threads ($(nproc) cores)"
echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
df -h "$BENCH_DIR" | tail -1 | awk '{print "   free space in " $6 ": " $4}'
t0=$(date +%s)
"$BIN/keystore-bench" populate "$WORK/config.json" "$PATIENTS" "$UIDS" >/dev/null
echo "   populated in $(( $(date +%s) - t0 )) s; database $(du -sh "$WORK/var/keystore" | cut -f1)"
"$BIN/deid-keystore" serve --config "$WORK/config.json" 2>"$WORK/broker.log" &
BROKER_PID=$!
SOCK=$WORK/var/run/keystore.sock
for _ in $(seq 1 600); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
# Warm the page cache the way a running broker would be, then measure.
"$BIN/keystore-bench" latency "$SOCK" 20000 "$PATIENTS" "$UIDS" >/dev/null
"$BIN/keystore-bench" latency "$SOCK" 20000 "$PATIENTS" "$UIDS"
"$BIN/keystore-bench" throughput "$SOCK" "$THREADS" 10
"$BIN/keystore-bench" throughput "$SOCK" "$THREADS" 10 "$PATIENTS" "$UIDS"
"$BIN/keystore-bench" throughput "$SOCK" 1 5
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" || true; BROKER_PID=
"$BIN/deid-keystore" stats --config "$WORK/config.json"
