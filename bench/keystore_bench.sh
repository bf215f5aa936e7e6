#!/usr/bin/env bash
# Keystore broker benchmark: fills a keystore with PATIENTS patients and UIDS UID mappings, starts
# `deid-keystore serve` on it and prints round trips per second for batches of 10 UIDs with
# THREADS pipelined client threads x CONNS connections each:
#   recent = UIDs a gateway repeats while it works on studies (a working set of 2,000 patients /
#            20,000 UIDs of the map: answered from the broker's memory, no database read),
#   mapped = random UIDs over the WHOLE map (cold: mostly database reads),
#   new    = new UIDs (write path: group commit),
# and p50/p99 latency of single lookups. Figures depend on what else runs on the machine (the load
# average is printed) and the client shares the cores with the broker; the broker's own CPU time
# per request is printed too.
#   bench/keystore_bench.sh [PATIENTS [UIDS [THREADS [CONNS]]]]      defaults: 1000000 50000000 2 8
# Full size needs about 12 GB under $BENCH_DIR (default /work/tmp) and 10-15 minutes.
# Targets (issue 4): >= 20,000 batched requests/s, p99 lookup latency < 1 ms.
set -euo pipefail
PATIENTS=${1:-1000000}
UIDS=${2:-50000000}
THREADS=${3:-2}
CONNS=${4:-8}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
cmake --build "$BUILD" --target deid-keystore keystore-bench -j2 >/dev/null
BENCH_DIR=${BENCH_DIR:-/work/tmp}
mkdir -p "$BENCH_DIR"
WORK=$(mktemp -d "$BENCH_DIR/keystore-bench.XXXXXX")
# Copies of the binaries: a rebuild during a long run does not change what is measured.
mkdir -p "$WORK/bin" && cp "$BUILD/bin/deid-keystore" "$BUILD/bin/keystore-bench" "$WORK/bin/"
BIN=$WORK/bin
BROKER_PID=
cleanup() {
  if [[ -n "$BROKER_PID" ]]; then kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
load() { echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)   ($(uptime | sed 's/^ *//'))"; }
# The bench measures capacity: the per-connection limits (keystore.limits, docs/keystore.md) that
# slow a guesser are lifted here; the connection count stays within max_connections.
echo "{\"state_dir\": \"$WORK/var\", \"keystore\": {\"limits\": {\"questions_per_second\": 10000000, \"values_per_second\": 100000000}}}" > "$WORK/config.json"
echo "== keystore bench: $PATIENTS patients, $UIDS UID mappings, $THREADS client threads x $CONNS connections ($(nproc) cores)"
load
df -h "$BENCH_DIR" | tail -1 | awk '{print "   free space in " $6 ": " $4}'
t0=$(date +%s)
"$BIN/keystore-bench" populate "$WORK/config.json" "$PATIENTS" "$UIDS" >/dev/null
echo "   populated in $(( $(date +%s) - t0 )) s; database $(du -sh "$WORK/var/keystore" | cut -f1)"
"$BIN/deid-keystore" serve --config "$WORK/config.json" 2>"$WORK/broker.log" &
BROKER_PID=$!
SOCK=$WORK/var/run/keystore.sock
for _ in $(seq 1 600); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
WS_PATIENTS=$(( PATIENTS < 2000 ? PATIENTS : 2000 ))
WS_UIDS=$(( UIDS < 20000 ? UIDS : 20000 ))
load
# Warm the page cache the way a running broker would be, then measure with other random UIDs (the
# same ones would be answered from the broker's memory): mostly database reads.
"$BIN/keystore-bench" latency "$SOCK" 20000 "$PATIENTS" "$UIDS" 1 >/dev/null
"$BIN/keystore-bench" latency "$SOCK" 20000 "$PATIENTS" "$UIDS" 2
# The working set (the first lookups of each value go to the database, the rest are from memory).
"$BIN/keystore-bench" latency "$SOCK" 20000 "$WS_PATIENTS" "$WS_UIDS" 3
load
"$BIN/keystore-bench" throughput "$SOCK" "$THREADS" "$CONNS" "$SECONDS_PER_RUN" recent "$WS_PATIENTS" "$WS_UIDS"
load
"$BIN/keystore-bench" throughput "$SOCK" "$THREADS" "$CONNS" "$SECONDS_PER_RUN" mapped "$PATIENTS" "$UIDS"
load
"$BIN/keystore-bench" throughput "$SOCK" "$THREADS" "$CONNS" "$SECONDS_PER_RUN" new
load
"$BIN/keystore-bench" throughput "$SOCK" 1 1 5 new
"$BIN/deid-keystore" stats --config "$WORK/config.json" 2>/dev/null || true
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" || true; BROKER_PID=
"$BIN/deid-keystore" audit verify --config "$WORK/config.json" | tail -3
