#!/usr/bin/env bash
# Benchmark (not a test) of the gateway's throughput, on the same generated instances in one run:
#   (a) storescu -> storescp directly, TCP_NODELAY forced on both by an LD_PRELOAD shim (the wire limit)
#   (b) storescu -> deid-gateway serve (default profile) -> storescp, shim on the two DCMTK tools only
#   (t) (b) over DICOM TLS on both sides, mutually authenticated: storescu +tls -> the gateway's
#       listen.tls port (plain port off), the gateway -> storescp +tls (destinations[].tls);
#       certificates from a private CA made here with openssl; printed beside plain (b) from the
#       same rounds.
#   (c) Orthanc as an anonymize-and-forward router (Lua OnStoredInstance -> /anonymize -> store ->
#       SendToModality), shim on storescu, Orthanc and storescp
# for 1,000 CT 512x512 16-bit instances and for 5,000 64x64 ones. Prints instances/s, MB/s, end-to-end
# latency p50/p99 (received -> delivered, from the gateway's log) and the gateway's peak RSS, then
# the medians, the ratios against the targets, and the bound that the durable write before Success
# (synced_ms in the gateway's log) puts on (b) with one sender.
#
#   bench/gateway_bench.sh [BUILD_DIR] [LARGE_COUNT] [SMALL_COUNT]   (defaults: build 1000 5000)
# CASES=ab runs only (a) and (b) (default abtc); GATEWAY_WRAP="strace -c -f -o FILE" wraps the gateway.
# ROUNDS=N (default 3) runs (a) and (b) N times, interleaved, and prints their medians: on this VM
# one case can vary by 2x from one minute to the next. (c) runs once.
# INSTRUCTIONS=1 also prints the instructions the gateway and its broker executed per instance
# (needs perf, Debian package linux-perf; it slows (b) down: for comparing builds, not for rates).
# SENDERS="1 4" (the default) runs (a) and (b) in each round once with one sender and once with 4
# senders (4 storescu processes at once, each with a share of the files, storescp --fork): the
# gateway's per-instance latency, then its capacity, as when a PACS routes on several associations.
# (t) and the durable-write bound are for one sender. SENDERS=1 runs one sender only.
# LARGE_SIZE=N makes the large set N x N (default 512).
# JOURNAL_BYTES=N sets the gateway's spool.journal_bytes (default: the gateway's own, 32 MiB; 0 runs
# without the reception journal, each reception synced by its own file as before 2026-12-02).
# Each line ends with the 1-minute load average when the case finished: other work on the machine
# (compiles) changes the figures a lot, so compare (a) and (b) from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
LARGE=${2:-1000}
SMALL=${3:-5000}
CASES=${CASES:-abtc}
SENDER_COUNTS=${SENDERS:-1 4}
SENDERS=1
ROUNDS=${ROUNDS:-3}
ROUND=1
GATEWAY_WRAP=${GATEWAY_WRAP:-}
BIN=$BUILD/bin
cmake --build "$BUILD" -j2 --target deid-gateway deid-keystore deid-generate >/dev/null
for x in "$BIN/deid-generate" "$BIN/deid-gateway" "$BIN/deid-keystore" gcc storescu storescp Orthanc python3 openssl; do
  command -v "$x" >/dev/null || [[ -x $x ]] || { echo "missing $x" >&2; exit 2; }
done

BENCH_NAME=gateway-bench source bench/lib.sh

wait_files() { # DIR N LIMIT_SECONDS
  local end=$((SECONDS + $3))
  while (( $(count_files "$1") < $2 )); do
    (( SECONDS < end )) || { echo "timeout: $(count_files "$1") of $2 delivered in $1" >&2; return 1; }
    sleep 0.05
  done
}
now() { date +%s.%N; }
# Each case starts with nothing left to write back: otherwise the previous case's sink output
# (530 MB for the large set, dirty in the page cache) is written to disk during the next case and
# slows down whatever syncs there, i.e. the gateway's durable writes in (b).
settle_disk() { sync; }
# utime + stime of a process (its threads, ended ones included) and of its children (the broker).
gateway_ticks() { # PID
  local ticks=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$ticks"
}

# (t): a private CA (ca.crt), the sink's certificate (server, for localhost and 127.0.0.1) and one
# client certificate (client) for storescu and for the gateway, made as the TLS tests make theirs.
PKI=$WORK/pki
[[ $CASES != *t* ]] || tests/support/make-test-pki.sh "$PKI" >/dev/null
LARGE_SIZE=${LARGE_SIZE:-512}
echo "generating $LARGE CT ${LARGE_SIZE}x${LARGE_SIZE} and $SMALL CT 64x64 instances ..."
"$BIN/deid-generate" ct --count "$LARGE" --size "$LARGE_SIZE" --out "$WORK/large" >/dev/null
"$BIN/deid-generate" ct --count "$SMALL" --size 64 --out "$WORK/small" >/dev/null

# Sends every file in DIR to AE@PORT on SENDERS associations at once; storescu's output to LOG.
# SEND_TLS: storescu's TLS options for the case that runs (set by case_a and case_b).
SEND_TLS=()
send() { # AE PORT DIR LOG
  if (( SENDERS == 1 )); then
    $SHIM storescu "${SEND_TLS[@]}" -aec "$1" 127.0.0.1 "$2" +sd "$3" >"$4" 2>&1
    return
  fi
  local i pids=()
  find "$3" -type f | sort | split -n "r/$SENDERS" - "$WORK/senders."
  for i in "$WORK"/senders.*; do
    mapfile -t files <"$i"
    $SHIM storescu "${SEND_TLS[@]}" -aec "$1" 127.0.0.1 "$2" "${files[@]}" >>"$4" 2>&1 & pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
  rm -f "$WORK"/senders.*
}
label() { # TEXT: "storescu->..." becomes "4 x storescu->..." when SENDERS > 1
  if (( SENDERS == 1 )); then echo "$1"; else echo "${1/storescu/$SENDERS x storescu}"; fi
}

report() { # CASE SET N BYTES SECS P50 P99 RSS
  echo "${1:1:1} $2 $(echo "$3 / $5" | bc -l) $SENDERS" >>"$WORK/rates"
  printf '%-40s %-6s %6d inst %8.1f inst/s %8.1f MB/s   p50 %8s  p99 %8s  peak RSS %-9s load %s\n' \
    "$1" "$2" "$3" "$(echo "$3 / $5" | bc -l)" "$(echo "$4 / 1048576 / $5" | bc -l)" "$6" "$7" "$8" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}

# (a) storescu -> storescp, shim on both.
case_a() { # SET DIR
  local n bytes port out pid t0 t1
  SEND_TLS=()
  n=$(count_files "$2"); bytes=$(du -sb "$2" | cut -f1)
  port=$(free_port); out="$WORK/out/a${SENDERS}_$1_$ROUND"; mkdir -p "$out"
  local fork=(); (( SENDERS == 1 )) || fork=(--fork)
  $SHIM storescp "${fork[@]}" -aet SINK -od "$out" "$port" >"$WORK/a_storescp.log" 2>&1 & pid=$!; PIDS+=("$pid")
  wait_port "$port"
  settle_disk
  t0=$(now)
  send SINK "$port" "$2" "$WORK/a_storescu.log"
  wait_files "$out" "$n" 600
  t1=$(now)
  stop "$pid"
  report "$(label "(a) storescu->storescp (wire)")" "$1" "$n" "$bytes" "$(echo "$t1 - $t0" | bc -l)" n/a n/a n/a
}

# (b) storescu -> gateway -> storescp; (t) the same with DICOM TLS from the gateway to storescp.
case_t() { case_b "$1" "$2" tls; }
case_b() { # SET DIR [tls]
  local n bytes gport sport out state gw sink t0 t1 p50 p99 rss key=b tls_sink=() tls_dest="" listen
  gport=$(free_port); sport=$(free_port)
  listen="\"port\": $gport"
  SEND_TLS=()
  if [[ ${3:-} == tls ]]; then
    # Both sides mutually authenticated: storescu +tls into listen.tls, the gateway +tls to storescp.
    key=t
    tls_sink=(+tls "$PKI/server.key" "$PKI/server.crt" +cf "$PKI/ca.crt" -rc)
    tls_dest=", \"tls\": {\"certificate\": \"$PKI/client.crt\", \"private_key\": \"$PKI/client.key\", \"trusted_certificates\": \"$PKI/ca.crt\", \"server_name\": \"localhost\"}"
    listen="\"port\": 0, \"tls\": {\"port\": $gport, \"certificate\": \"$PKI/server.crt\", \"private_key\": \"$PKI/server.key\", \"trusted_certificates\": \"$PKI/ca.crt\", \"require_client_certificate\": true}"
    SEND_TLS=(+tls "$PKI/client.key" "$PKI/client.crt" +cf "$PKI/ca.crt")
  fi
  # (A "}" inside ${VAR:+...} would end the expansion, so the optional member is built here.)
  local journal=""; [[ -z ${JOURNAL_BYTES:-} ]] || journal=" \"spool\": {\"journal_bytes\": $JOURNAL_BYTES},"
  n=$(count_files "$2"); bytes=$(du -sb "$2" | cut -f1)
  out="$WORK/out/${key}${SENDERS}_$1_$ROUND"; state="$WORK/${key}${SENDERS}_state_$1_$ROUND"; mkdir -p "$out"
  $SHIM storescp --fork -aet SINK "${tls_sink[@]}" -od "$out" "$sport" >"$WORK/b_storescp.log" 2>&1 & sink=$!; PIDS+=("$sink")
  cat >"$WORK/b_config.json" <<EOF
{"state_dir": "$state", "workers": 2, "listen": {$listen}, "http": {"port": 0},$journal
 "destinations": [{"name": "sink", "ae_title": "SINK", "host": "127.0.0.1", "port": $sport, "associations": 4$tls_dest}]}
EOF
  $GATEWAY_WRAP "$BIN/deid-gateway" serve --config "$WORK/b_config.json" >"$WORK/b_gateway.log" 2>&1 & gw=$!; PIDS+=("$gw")
  wait_port "$gport"; wait_port "$sport"
  # INSTRUCTIONS=1: count them (perf stat), steadier than CPU time on a shared VM, for comparing
  # two builds; the counting slows (b) down, so its throughput is not comparable then.
  local pstat=""; if [[ -n ${INSTRUCTIONS:-} ]]; then
    local gpids; gpids=$(echo "$gw" $(pgrep -P "$gw" || true) | tr ' ' ',')
    perf stat -e instructions:u,instructions:k -x, -o "$WORK/b_perf.txt" -p "$gpids" 2>/dev/null & pstat=$!
    PIDS+=("$pstat")
  fi
  settle_disk
  local gpid ticks0; gpid=$(pgrep -n -f "deid-gateway serve --config $WORK/b_config.json" || echo "$gw")
  ticks0=$(gateway_ticks "$gpid")
  t0=$(now)
  send DEIDGW "$gport" "$2" "$WORK/b_storescu.log"
  local t_sent; t_sent=$(now)
  wait_files "$out" "$n" 1200
  t1=$(now)
  local instructions=""
  if [[ -n $pstat ]]; then
    kill -INT "$pstat" 2>/dev/null; wait "$pstat" 2>/dev/null || true
    instructions=$(awk -F, -v n="$n" '$3 ~ /instructions:u/ {u = $1} $3 ~ /instructions:k/ {k = $1}
      END {if (u != "" && u != "<not counted>") printf "; instructions %.0fk user + %.0fk kernel per instance", u / n / 1000, k / n / 1000}' \
      "$WORK/b_perf.txt")
  fi
  rss=$(awk '/VmHWM/ {print $2 "kB"}' "/proc/$gpid/status")
  # CPU time of the gateway and its keystore broker (utime + stime) from just before the first
  # instance was sent to when the last was delivered (start-up and shutdown not counted), per instance.
  local ticks; ticks=$(( $(gateway_ticks "$gpid") - ticks0 ))
  local cpu_ms; cpu_ms=$(echo "$ticks * 1000 / $(getconf CLK_TCK) / $n" | bc -l)
  read -r p50 p99 < <(grep -o 'latency_ms=[0-9]*' "$WORK/b_gateway.log" | cut -d= -f2 | sort -n |
    awk '{v[NR]=$1} END {if (NR == 0) {print "n/a n/a"; exit} i50=int(NR*0.50); i99=int(NR*0.99); if (i50<1) i50=1; if (i99<1) i99=1; print v[i50] "ms", v[i99] "ms"}')
  # What Success waits for on this disk: the durable spool write (docs/operations.md, Durability 1:
  # the journal record's fdatasync, or the file's fdatasync, rename and folder fsync).
  local synced; synced=$( (grep -o 'synced_ms=[0-9.]*' "$WORK/b_gateway.log" || true) | cut -d= -f2 |
    awk '{s += $1} END {if (NR) printf "%.3f", s / NR}')
  [[ -z $synced || $key == t ]] || (( SENDERS > 1 )) || echo "$1 $synced" >>"$WORK/synced"
  echo "$key $1 $cpu_ms $SENDERS" >>"$WORK/cpu"
  # The questions the gateway asked its keystore broker (keystore.limits are sized to this rate).
  local questions; questions=$("$BIN/deid-keystore" health --config "$WORK/b_config.json" --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("requests", ""))' 2>/dev/null || true)
  stop "$gw"; stop "$sink"
  local quarantined; quarantined=$(find "$state/spool/quarantine" -name reason.json 2>/dev/null | wc -l)
  if [[ $key == t ]]; then
    report "$(label "(t) storescu +tls->gateway->storescp +tls")" "$1" "$n" "$bytes" "$(echo "$t1 - $t0" | bc -l)" "$p50" "$p99" "$rss"
  else
    report "$(label "(b) storescu->gateway->storescp")" "$1" "$n" "$bytes" "$(echo "$t1 - $t0" | bc -l)" "$p50" "$p99" "$rss"
  fi
  printf '    gateway + broker CPU %.2f ms per instance%s; storescu finished after %.1f s of %.1f s; durable spool write %s ms per instance\n' \
    "$cpu_ms" "$instructions" "$(echo "$t_sent - $t0" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "${synced:-n/a}"
  [[ -z $questions ]] || printf '    keystore broker: %d questions, %.2f per instance, %.0f per second\n' \
    "$questions" "$(echo "$questions / $n" | bc -l)" "$(echo "$questions / ($t1 - $t0)" | bc -l)"
  (( quarantined == 0 )) || echo "    note: $quarantined instances quarantined by the gateway" >&2
}

# (c) Orthanc as anonymize-and-forward router, shim on all.
case_c() { # SET DIR
  local n bytes oport hport sport out orthanc sink t0 t1
  n=$(count_files "$2"); bytes=$(du -sb "$2" | cut -f1)
  oport=$(free_port); hport=$(free_port); sport=$(free_port); out="$WORK/out/c_$1"; local odir="$WORK/c_orthanc_$1"
  mkdir -p "$out" "$odir"
  $SHIM storescp --fork -aet SINK -od "$out" "$sport" >"$WORK/c_storescp.log" 2>&1 & sink=$!; PIDS+=("$sink")
  cat >"$odir/route.lua" <<'EOF'
function OnStoredInstance(instanceId, tags, metadata, origin)
  if origin['RequestOrigin'] == 'Lua' then return end
  local anonymized = RestApiPost('/instances/' .. instanceId .. '/anonymize', '{"Force": true}')
  local stored = ParseJson(RestApiPost('/instances', anonymized))
  SendToModality(stored['ID'], 'sink')
  Delete(stored['ID'])
  Delete(instanceId)
end
EOF
  cat >"$odir/config.json" <<EOF
{"Name": "bench-router", "DicomAet": "ROUTER", "DicomPort": $oport, "HttpPort": $hport,
 "StorageDirectory": "$odir/storage", "IndexDirectory": "$odir/index",
 "RemoteAccessAllowed": false, "AuthenticationEnabled": false, "DicomAlwaysAllowStore": true,
 "DicomCheckCalledAet": false, "Plugins": [], "LuaScripts": ["$odir/route.lua"],
 "DicomModalities": {"sink": ["SINK", "127.0.0.1", $sport]}}
EOF
  $SHIM Orthanc "$odir/config.json" >"$odir.log" 2>&1 & orthanc=$!; PIDS+=("$orthanc")
  wait_port "$oport"; wait_port "$sport"
  settle_disk
  t0=$(now)
  $SHIM storescu -aec ROUTER 127.0.0.1 "$oport" +sd "$2" >"$WORK/c_storescu.log" 2>&1
  wait_files "$out" "$n" 3600
  t1=$(now)
  stop "$orthanc"; stop "$sink"
  report "(c) storescu->Orthanc router->storescp" "$1" "$n" "$bytes" "$(echo "$t1 - $t0" | bc -l)" n/a n/a n/a
}

echo "start: $(uptime)"
echo "case                                     set     count   throughput                latency (received -> delivered)  gateway"
# Case by case, and nothing is deleted before the end: on ext4 without a journal, every file
# created in the minutes after many deletions scans past the deleted inodes (recently_deleted()),
# which made the sink of whichever case followed a clean-up much slower than the sink of (a).
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  for SENDERS in $SENDER_COUNTS; do
    for c in a b t; do
      [[ $CASES == *$c* ]] || continue
      [[ $c != t ]] || (( SENDERS == 1 )) || continue
      for set in large small; do "case_$c" "$set" "$WORK/$set"; done
    done
  done
done
SENDERS=1
if [[ $CASES == *c* ]]; then for set in large small; do case_c "$set" "$WORK/$set"; done; fi
median() { # CASE SET [SENDERS]: the median rate of that case over the rounds, or nothing
  awk -v c="$1" -v s="$2" -v n="${3:-1}" '$1 == c && $2 == s && $4 == n {print $3}' "$WORK/rates" | sort -g |
    awk '{v[NR] = $1} END {if (NR) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
cpu_median() { # CASE SET SENDERS: the median gateway + broker CPU ms per instance
  awk -v c="$1" -v s="$2" -v n="$3" '$1 == c && $2 == s && $4 == n {print $3}' "$WORK/cpu" 2>/dev/null | sort -g |
    awk '{v[NR] = $1} END {if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
pct() { echo "100 * $1 / $2" | bc -l | xargs printf '%.0f'; }
echo "medians over $ROUNDS round(s) (inst/s), one sender:"
for set in large small; do
  a=$(median a "$set"); b=$(median b "$set"); t=$(median t "$set"); c=$(median c "$set")
  line="  $set: (a) ${a:-n/a}  (b) ${b:-n/a}  (t) ${t:-n/a}  (c) ${c:-n/a}"
  [[ -n $b && -n $t ]] && line+="   (t)/(b) $(pct "$t" "$b") % (TLS costs at most 25 %: target >= 75 %)"
  if [[ -n $a && -n $b ]]; then
    target=55; [[ $set == large ]] || target=32
    line+="   (b)/(a) $(pct "$b" "$a") % (target >= $target %)"
  fi
  if [[ -n $b && -n $c ]]; then
    target=10; [[ $set == large ]] || target=20
    line+="   (b)/(c) $(echo "$b / $c" | bc -l | xargs printf '%.1f')x (target >= ${target}x)"
  fi
  echo "$line"
done
echo "gateway + broker CPU per instance (user + system, median over rounds; targets: small <= 0.5 ms, large <= 1.1 ms):"
for n in $SENDER_COUNTS; do
  for set in large small; do
    b=$(cpu_median b "$set" "$n"); t=$(cpu_median t "$set" "$n")
    [[ -n $b ]] || continue
    printf '  %s, %d sender(s): (b) %s ms%s\n' "$set" "$n" "$b" "${t:+  (t) $t ms}"
  done
done
for n in $SENDER_COUNTS; do
  (( n > 1 )) || continue
  echo "medians over $ROUNDS round(s) (inst/s), $n senders at once:"
  for set in large small; do
    a=$(median a "$set" "$n"); b=$(median b "$set" "$n")
    line="  $set: (a) ${a:-n/a}  (b) ${b:-n/a}"
    [[ -n $a && -n $b ]] && line+="   (b)/(a) $(pct "$b" "$a") %"
    [[ $set == small && -n $b ]] && line+="   (target for small: (b) >= 2000 inst/s or (b)/(a) >= 85 %)"
    echo "$line"
  done
done
# The bound the durability rule sets: each instance's Success waits for its durable spool write,
# and the sender sends the next one only then. So with one sender, (b) takes at least (a)'s whole
# time per instance (the same sending, receiving and writing) plus that write: at most
# 1 / (1/(a) + sync) instances/s, however little CPU the rest of the gateway used.
if (( SENDERS == 1 )) && [[ -f $WORK/synced ]]; then
  echo "bound from the durable spool write (one sender, before any de-identification work):"
  for set in large small; do
    a=$(median a "$set"); sync=$(awk -v s="$set" '$1 == s {print $2}' "$WORK/synced" | sort -g |
      awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}')
    [[ -n $a && -n $sync ]] || continue
    cap=$(echo "1 / (1 / $a + $sync / 1000)" | bc -l)
    printf '  %s: (a) %.3f ms per instance + durable write %.3f ms (median over rounds) -> (b) <= %.1f inst/s = %.0f %% of (a)\n' \
      "$set" "$(echo "1000 / $a" | bc -l)" "$sync" "$cap" "$(echo "100 * $cap / $a" | bc -l)"
  done
fi
echo "end: $(uptime)"
