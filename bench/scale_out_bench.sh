#!/usr/bin/env bash
# Benchmark (not a test) of the scale-out topology (docs/scale-out.md), in one run:
#   keystore: batched resolve requests/s with 10 new UIDs each (the write path: every request
#             records 10 mappings) against (1) a broker on SQLite, (2) a broker on PostgreSQL,
#             (3) two brokers on the same PostgreSQL at once (their sum);
#   gateways: instances/s through HAProxy (TCP mode) with one gateway, then with two, each with its
#             own broker on the shared PostgreSQL map; SENDERS storescu senders, a three-series
#             study of COUNT CT 64x64 instances, timed from the first send until the last instance
#             is at the destination (storescp --fork).
# Everything runs on this machine's cores (client, brokers, PostgreSQL, gateways, HAProxy and the
# destination share them), so two gateways on one 2-core machine show the overhead of the
# topology, not the gain of a second machine. The load average is printed with each figure.
#
#   bench/scale_out_bench.sh [BUILD_DIR]   env: COUNT=300 SENDERS=4 SECONDS_PER_RUN=10 THREADS=1 CONNS=8
#                                          BENCH_CHUNK (files per association, default: all of a sender's)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:-build}
BIN=$ROOT/$BUILD/bin
[[ $BUILD = /* ]] && BIN=$BUILD/bin
COUNT=${COUNT:-300}
SENDERS=${SENDERS:-4}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
THREADS=${THREADS:-1}
CONNS=${CONNS:-8}
cmake --build "$BUILD" -j2 --target deid-gateway deid-keystore deid-generate keystore-bench >/dev/null
source scripts/scale-out-lib.sh
need_tools haproxy storescu storescp echoscu dcmodify psql pg_isready createdb python3 bc
load() { cut -d' ' -f1 /proc/loadavg; }

echo "== scale-out bench ($(nproc) cores, load $(load))"
start_postgres

# --- keystore: batched requests/s on the write path ---------------------------------------------
start_broker 1 ""          # SQLite (creates the secret)
start_broker 2             # PostgreSQL (copies of the same secret)
start_broker 3
rate() { sed -nE 's/.*: ([0-9]+) requests\/s \(([0-9]+) UIDs\/s\).*/\1 \2/p' "$1"; }
bench_new() { "$BIN/keystore-bench" throughput "$WORK/b$1/run/keystore.sock" "$THREADS" "$CONNS" "$SECONDS_PER_RUN" new; }
bench_new 1 >"$WORK/k1.out"
read -r r u < <(rate "$WORK/k1.out")
printf 'keystore  SQLite, 1 broker                 %7d requests/s  %8d new mappings/s   load %s\n' "$r" "$u" "$(load)"
bench_new 2 >"$WORK/k2.out"
read -r r u < <(rate "$WORK/k2.out")
printf 'keystore  PostgreSQL, 1 broker             %7d requests/s  %8d new mappings/s   load %s\n' "$r" "$u" "$(load)"
bench_new 2 >"$WORK/k2b.out" & p2=$!
bench_new 3 >"$WORK/k3.out" & p3=$!
wait "$p2" "$p3"
read -r r2 u2 < <(rate "$WORK/k2b.out")
read -r r3 u3 < <(rate "$WORK/k3.out")
printf 'keystore  PostgreSQL, 2 brokers at once    %7d requests/s  %8d new mappings/s   load %s  (%d + %d)\n' \
  $((r2 + r3)) $((u2 + u3)) "$(load)" "$r2" "$r3"
for k in "k1 SQLite" "k2 PostgreSQL, 1 broker" "k2b PostgreSQL, broker 1 of 2" "k3 PostgreSQL, broker 2 of 2"; do
  printf '          %-30s %s\n' "${k#* }:" "$(grep -o 'broker CPU [0-9.]* us per request' "$WORK/${k%% *}.out" || echo n/a)"
done
echo "          PostgreSQL rows now: $(sql 'SELECT count(*) FROM uids') UIDs, $(sql 'SELECT count(*) FROM patients') patients"
stop_process broker1
stop_process broker3

# --- gateways through HAProxy ---------------------------------------------------------------------
# Brokers 1 and 2 on the shared map for gateways 1 and 2 (broker 2 keeps running).
start_broker 1
start_destination
start_gateway 1
start_gateway 2
make_study "$WORK/study" "$COUNT" "MRN-BENCH-1" "1.2.826.0.1.3680043.10.902.1"
run_case() { # GATEWAYS TAG
  rm -rf "$WORK/dest"/* "$WORK"/*.share.*
  start_haproxy "$1"
  local t0 t1
  t0=$(date +%s.%N)
  # One association per sender (CHUNK: files per storescu run), as a PACS sending a study.
  CHUNK=${BENCH_CHUNK:-100000} send_study "$WORK/study" "$2" "$SENDERS" || die "not every instance was acknowledged"
  wait_for 600 delivered_at_least "$COUNT" || die "$(delivered) of $COUNT delivered"
  t1=$(date +%s.%N)
  stop_process haproxy
  printf 'gateways  %d behind HAProxy, %d senders     %7.1f instances/s   (%d instances in %.2f s)   load %s\n' \
    "$1" "$SENDERS" "$(echo "$COUNT / ($t1 - $t0)" | bc -l)" "$COUNT" "$(echo "$t1 - $t0" | bc -l)" "$(load)"
}
# The first send of a study records its mappings; the timed cases repeat it (the mappings are then
# known, as for every instance after a study's first), so both cases do the same work.
run_case 2 warm >/dev/null
run_case 1 one
run_case 2 two
echo "          per gateway (two-gateway case and warm-up): gateway 1 delivered $(gateway_delivered 1), gateway 2 $(gateway_delivered 2)"
