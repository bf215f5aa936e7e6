#!/usr/bin/env bash
# Benchmark (not a test): where the gateway's CPU goes, per instance, in figures that a shared,
# loaded machine distorts as little as possible (no rates):
#  1. CPU time of the gateway and of its keystore broker, counted from just before the first
#     instance is sent to when the last one is delivered, for N small (CT 64x64) and N large
#     (CT 512x512) instances sent by one storescu to a storescp sink: user + system per thread group
#     (receive, deid-worker, the rest: forwarders and the main thread) from
#     /proc/<pid>/task/<tid>/stat (ticks of 10 ms), and, with perf (Debian linux-perf), the exact
#     task-clock (kernel work included), context switches and CPU migrations of each process; and
#     the write requests the spool's block device completed meanwhile, per instance (a durable
#     write before Success waits for some of them; the sink's files on the same disk count too).
#  2. Instructions (valgrind --tool=callgrind, the same whatever the load) per instance and per
#     stage (thread), and each stage's top functions by inclusive cost, for CG_COUNT instances of
#     each set (counters zeroed before the first is sent, dumped after the last is delivered).
#  3. System calls per instance and thread group (perf trace record on the gateway and its broker,
#     summed by thread name) for CG_COUNT instances of each set. (strace -c -f, the obvious tool,
#     slows the gateway down so much on these VMs that 500 instances took over 10 minutes.)
#  4. Kernel CPU per instance by thread group and system call (perf record -e cpu-clock -g), and
#     context switches per instance by thread group, system call and what waited (perf record -e
#     context-switches -g), for CG_COUNT instances of each set. A sample is put under the system
#     call whose __x64_sys_, __do_sys_ or ksys_ frame its chain holds (this kernel calls read and
#     write through ksys_read and ksys_write, with no __x64_sys_ frame: before 2026-12-03 their
#     work was counted as "(no system call)"), under "(system call entry/exit)" when only
#     do_syscall_64 is there, else under "(no system call)": an interrupt or a fault.
# The bench config turns pixels.screen_all_images off: the pixel screen is another issue's.
# As bench/gateway_bench.sh does, storescu and storescp get TCP_NODELAY through an LD_PRELOAD shim
# (bench/nodelay_shim.c) and the run waits for bench/settle.sh. Without the shim (before
# 2026-12-02) every instance waited ~40 ms on Nagle's algorithm and delayed ACKs, so 2,000 small
# instances took ~90 s instead of ~3 s, and part 1 counted the gateway's idle work (polls, timers,
# a wake-up of every stage per instance instead of one per burst) over that whole time: 3.23 ms
# per small instance where gateway_bench printed 1.62 on the same quiet machine.
#
#   bench/cpu_profile.sh [BUILD_DIR] [COUNT]   (defaults: build 1000)
# CG_COUNT=N (default 200) instances per set in parts 2-4; CPU=0 skips part 1, CG=0 part 2,
# SYSCALLS=0 part 3, KERNEL=0 part 4 (PERF_HZ, default 2000, its sampling rate); TOP=N (default 12)
# functions per stage; CG_KEEP=DIR keeps part 2's dumps there (SET.STAGE.PART-THREAD, for
# callgrind_annotate --tree=both or kcachegrind); SETS="small" (default "small large") picks the sets; SETTLE_SECONDS as in
# bench/settle.sh; NODELAY=0 runs storescu and storescp without the shim. GATEWAY_WRAP="..." prefixes
# the gateway's command line in part 1 (e.g. "env LD_PRELOAD=..." to compare a memory allocator).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
COUNT=${2:-1000}
CG=${CG:-1}
CG_COUNT=${CG_COUNT:-200}
TOP=${TOP:-12}
CPU=${CPU:-1}
SYSCALLS=${SYSCALLS:-1}
KERNEL=${KERNEL:-1}
PERF_HZ=${PERF_HZ:-2000}
SETS=${SETS:-small large}
BIN=$BUILD/bin
cmake --build "$BUILD" -j2 --target deid-gateway deid-keystore deid-generate >/dev/null
for x in "$BIN/deid-generate" "$BIN/deid-gateway" "$BIN/deid-keystore" storescu storescp python3 bc gcc; do
  command -v "$x" >/dev/null || [[ -x $x ]] || { echo "missing $x" >&2; exit 2; }
done
(( CG == 0 )) || command -v valgrind >/dev/null || { echo "missing valgrind (CG=0 skips part 2)" >&2; exit 2; }
PERF=$(command -v perf || true)
(( SYSCALLS == 0 && KERNEL == 0 )) || [[ -n $PERF ]] ||
  { echo "missing perf, Debian linux-perf (SYSCALLS=0 KERNEL=0 skip parts 3 and 4)" >&2; exit 2; }

BENCH_NAME=cpu-profile source bench/lib.sh
[[ ${NODELAY:-1} != 0 ]] || SHIM=""  # NODELAY=0: the tools as packaged (how the script ran before 2026-12-02)

# The gateway's own count of deliveries (the sink names files by SOP Instance UID, and the
# warm-up instance is the first of the small set again).
delivered() { grep -c ': delivered ' "$1" || true; }
wait_delivered() { # LOG N LIMIT_SECONDS
  local end=$((SECONDS + $3))
  while (( $(delivered "$1") < $2 )); do
    (( SECONDS < end )) || { echo "timeout: $(delivered "$1") of $2 delivered" >&2; return 1; }
    sleep 0.05
  done
}
TCK=$(getconf CLK_TCK)

echo "generating $COUNT CT instances for each of: $SETS (small: 64x64, large: 512x512) ..."
[[ $SETS != *small* ]] || "$BIN/deid-generate" ct --count "$COUNT" --size 64 --out "$WORK/small" >/dev/null
[[ $SETS != *large* ]] || "$BIN/deid-generate" ct --count "$COUNT" --size 512 --out "$WORK/large" >/dev/null
for set in $SETS; do
  mkdir -p "$WORK/cg_$set"
  # sed reads its whole input (head would end the pipe early: SIGPIPE under pipefail).
  find "$WORK/$set" -type f | sort | sed -n "1,${CG_COUNT}p" | xargs -r cp -t "$WORK/cg_$set"
done

# Starts a sink and a gateway (WRAP prefixes the gateway's command line); sets SINK, GW, GPORT, OUT, GLOG.
start() { # NAME WRAP...
  local name=$1; shift
  local sport; GPORT=$(free_port); sport=$(free_port); OUT="$WORK/out_$name"; mkdir -p "$OUT"
  $SHIM storescp --fork -aet SINK -od "$OUT" "$sport" >"$WORK/${name}_storescp.log" 2>&1 & SINK=$!; PIDS+=("$SINK")
  cat >"$WORK/${name}_config.json" <<EOF
{"state_dir": "$WORK/${name}_state", "workers": 2, "listen": {"port": $GPORT}, "http": {"port": 0},
 "pixels": {"screen_all_images": false},
 "destinations": [{"name": "sink", "ae_title": "SINK", "host": "127.0.0.1", "port": $sport, "associations": 4}]}
EOF
  GLOG="$WORK/${name}_gateway.log"
  "$@" "$BIN/deid-gateway" serve --config "$WORK/${name}_config.json" >"$GLOG" 2>&1 & GW=$!; PIDS+=("$GW")
  wait_port "$GPORT" 1200 || { echo "the gateway did not start, see its log:" >&2; tail "$WORK/${name}_gateway.log" >&2; exit 1; }
  wait_port "$sport"
  # Warm-up: one instance end to end (first associations, lazily built workers, broker connection).
  mkdir -p "$WORK/warm"; find "$WORK/${SETS%% *}" -type f | sort | sed -n 1p | xargs -r cp -t "$WORK/warm"
  $SHIM storescu -aec DEIDGW 127.0.0.1 "$GPORT" +sd "$WORK/warm" >/dev/null 2>&1
  wait_delivered "$GLOG" 1 600
}

# CPU ticks of the gateway PID as "group ticks" lines: "process" (every thread, ended ones too),
# its live deid-worker threads, its other live threads ("other": forwarders, main, monitor), and
# "broker" for its keystore child. The association threads (named "receive") end with their
# association, so receiving is what the process used beyond the live threads.
ticks() { # PID
  local t comm p
  echo "process $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat")"
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    case $comm in receive) continue ;; deid-worker) ;; *) comm=other ;; esac
    echo "$comm $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "$t/stat" 2>/dev/null || echo 0)"
  done
  for p in $(pgrep -P "$1" || true); do
    echo "broker $(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)"
  done
}
sum_ticks() { awk '{s[$1] += $2} END {for (g in s) print g, s[g]}' | sort; }

# Write requests completed by the block device that holds the spool (/sys/dev/block/M:m/stat,
# field 5): each is one round trip to the disk, and the durable write before Success waits for some.
disk_writes() {
  local dev; dev=$(stat -c '%d' "$WORK")
  awk '{print $5}' "/sys/dev/block/$(((dev >> 8) & 0xfff)):$(((dev & 0xff) | ((dev >> 12) & 0xfff00)))/stat" 2>/dev/null || true
}
if (( CPU != 0 )); then
echo
echo "1. CPU time per instance (user + system; one storescu, screen_all_images off; load $(cut -d' ' -f1 /proc/loadavg))"
start cpu ${GATEWAY_WRAP:-}
delivered=1
printf '%-6s %6s  %9s %9s %9s %9s  %9s %9s\n' set count receive workers other gateway broker total
for set in $SETS; do
  n=$(count_files "$WORK/$set")
  ticks "$GW" | sum_ticks >"$WORK/before"
  broker=$(pgrep -P "$GW" | head -n 1 || true)
  perfs=()
  if [[ -n $PERF ]]; then
    for p in "$GW" $broker; do
      "$PERF" stat -e task-clock,context-switches,cpu-migrations -x, -o "$WORK/perf_$set.$p" -p "$p" 2>/dev/null &
      perfs+=($!); PIDS+=($!)
    done
    sleep 0.5  # perf attached to every thread
  fi
  w0=$(disk_writes)
  t0=$(date +%s.%N)
  $SHIM storescu -aec DEIDGW 127.0.0.1 "$GPORT" +sd "$WORK/$set" >"$WORK/storescu_$set.log" 2>&1
  delivered=$((delivered + n))
  wait_delivered "$GLOG" "$delivered" 1800
  t1=$(date +%s.%N)
  w1=$(disk_writes)
  ticks "$GW" | sum_ticks >"$WORK/after"
  for p in "${perfs[@]}"; do kill -INT "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  join -a 2 -e 0 -o 0,1.2,2.2 "$WORK/before" "$WORK/after" |
    awk -v n="$n" -v tck="$TCK" -v set="$set" '
      {ms[$1] = ($3 - $2) * 1000 / tck / n}
      END {gw = ms["process"]; rx = gw - ms["deid-worker"] - ms["other"]
           printf "%-6s %6d  %9.3f %9.3f %9.3f %9.3f  %9.3f %9.3f   ms per instance\n",
                  set, n, rx, ms["deid-worker"], ms["other"], gw, ms["broker"], gw + ms["broker"]}'
  echo "       ($n instances in $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s)"
  [[ -z $w0 || -z $w1 ]] ||
    echo "       disk: $(echo "scale=2; ($w1 - $w0) / $n" | bc) write requests per instance (the spool's block device; the sink's writes to it included)"
  if [[ -n $PERF ]]; then
    for p in "$GW" $broker; do
      [[ -f $WORK/perf_$set.$p ]] || continue
      who=gateway; [[ $p == "$GW" ]] || who=broker
      awk -F, -v n="$n" -v who="$who" '
        $3 == "task-clock" {cpu = $1} $3 == "context-switches" {cs = $1} $3 == "cpu-migrations" {mig = $1}
        END {printf "       perf %-7s task-clock %.3f ms, %.1f context switches, %.2f migrations per instance\n",
                    who, cpu / n, cs / n, mig / n}' "$WORK/perf_$set.$p"
    done
  fi
done
quarantined=$(find "$WORK/cpu_state/spool/quarantine" -name reason.json 2>/dev/null | wc -l)
(( quarantined == 0 )) || echo "note: $quarantined instances quarantined" >&2
stop "$GW"; stop "$SINK"
echo "(counted in clock ticks of $((1000 / TCK)) ms: $(echo "scale=3; 1000 / $TCK / $COUNT" | bc) ms per instance and per column is one tick)"
fi

if (( CG != 0 )); then
echo
echo "2. Instructions per instance (callgrind, $CG_COUNT instances per set)"
for set in $SETS; do
  start "cg_$set" valgrind --tool=callgrind --separate-threads=yes --trace-children=yes \
    --callgrind-out-file="$WORK/cg_$set.%p" --dump-instr=no --collect-atstart=yes -q
  for p in $GW $(pgrep -P "$GW" || true); do callgrind_control -z "$p" >/dev/null 2>&1; done
  $SHIM storescu -aec DEIDGW 127.0.0.1 "$GPORT" +sd "$WORK/cg_$set" >"$WORK/cg_storescu_$set.log" 2>&1
  wait_delivered "$GLOG" $((CG_COUNT + 1)) 3600
  broker=$(pgrep -P "$GW" || true)
  for p in $GW $broker; do callgrind_control -d "$p" >/dev/null 2>&1; done
  sleep 2  # the dump is written asynchronously by the traced process (callgrind_control returns first)
  stop "$GW"; stop "$SINK"
  # The dump's files (PREFIX.PID.1-THREAD, one per thread; the exit's dump has no part number) are
  # told apart by what runs on the thread: the stage's entry function, or the broker's process id.
  : >"$WORK/stages_$set"
  for f in "$WORK"/cg_"$set".*.1-*; do
    [[ -f $f ]] || continue
    ir=$(awk '/^summary:/ {print $2}' "$f"); [[ -n $ir ]] || continue
    stage=other
    if [[ -n $broker && $f == *".$broker.1-"* ]]; then stage=broker
    elif grep -q 'SpoolingStoreHandler::handle_store' "$f"; then stage=receive
    elif grep -q 'WorkerPool::process(' "$f"; then stage=workers
    elif grep -q 'forward::' "$f"; then stage=forwarders
    fi
    echo "$stage $ir $f" >>"$WORK/stages_$set"
    [[ -z ${CG_KEEP:-} ]] || { mkdir -p "$CG_KEEP"; cp "$f" "$CG_KEEP/$set.$stage.${f##*.}"; }
  done
  echo "$set:"
  awk -v n="$CG_COUNT" '{s[$1] += $2; t += $2} END {
      for (g in s) printf "  %-10s %9.0fk instructions per instance\n", g, s[g] / n / 1000
      printf "  %-10s %9.0fk instructions per instance\n", "total", t / n / 1000}' "$WORK/stages_$set" | sort -k1,1
  for stage in receive workers forwarders broker; do
    files=$(awk -v s="$stage" '$1 == s && $2 > 0 {print $3}' "$WORK/stages_$set")
    [[ -n $files ]] || continue
    for incl in yes no; do
    echo "  top $TOP functions of $stage ($([[ $incl == yes ]] && echo "inclusive" || echo "self") cost, instructions per instance):"
    # callgrind_annotate reads one file (further arguments are source files): one run per thread,
    # summed by file and function (an inline function has one entry per file that holds it).
    for f in $files; do
      callgrind_annotate --auto=no --inclusive=$incl --threshold=100 "$f" 2>/dev/null |
        awk '/^-+$/ {d++; next}
          d >= 4 && $1 ~ /^[0-9,]+$/ {
            ir = $1; gsub(",", "", ir); $1 = ""; sub(/^ +/, ""); sub(/^\([0-9.]+%\) /, "");
            sub(/ \[[^]]*\]$/, ""); print ir "\t" $0}'
    done | awk -F'\t' '{s[$2] += $1} END {for (f in s) print s[f] "\t" f}' | sort -t$'\t' -k1,1nr |
      awk -F'\t' -v n="$CG_COUNT" -v top="$TOP" '{f = $2; sub(/^[^:]*:/, "", f); if (length(f) > 110) f = substr(f, 1, 107) "...";
        if (++k <= top) printf "    %9.1fk  %s\n", $1 / n / 1000, f}'
    done
  done
done
fi

if (( SYSCALLS != 0 )); then
echo
echo "3. System calls per instance and thread group (perf trace record, attached after the warm-up; $CG_COUNT instances per set)"
for set in $SETS; do
  start "sc_$set"
  broker=$(pgrep -P "$GW" | head -n 1 || true)
  "$PERF" trace record -o "$WORK/trace_$set.data" -p "$(echo "$GW" $broker | tr ' ' ,)" >/dev/null 2>&1 & tracer=$!
  PIDS+=("$tracer")
  sleep 1  # attached to every thread
  $SHIM storescu -aec DEIDGW 127.0.0.1 "$GPORT" +sd "$WORK/cg_$set" >"$WORK/sc_storescu_$set.log" 2>&1
  wait_delivered "$GLOG" $((CG_COUNT + 1)) 3600
  kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true
  stop "$GW"; stop "$SINK"
  echo "$set:"
  # The summary (on stderr) has one table per thread: summed by thread name (broker: deid-keystore;
  # other: deid-gateway, the forwarders and the main thread).
  "$PERF" trace -i "$WORK/trace_$set.data" -s 2>&1 >/dev/null |
    awk -v n="$CG_COUNT" '/^ [^ ]+ \([0-9]+\), [0-9]+ events/ {c = $1; next}
      c != "" && $1 ~ /^[a-z_0-9]+$/ && $2 ~ /^[0-9]+$/ {k[c "\t" $1] += $2; t[c] += $2}
      END {for (x in k) {split(x, a, "\t"); if (k[x] / n >= 0.5) printf "%s\t%s\t%.1f\n", a[1], a[2], k[x] / n}
           for (c in t) printf "%s\t%s\t%.1f\n", c, "(all)", t[c] / n}' | sort -t$'\t' -k1,1 -k3,3gr |
    awk -F'\t' '{printf "  %-14s %-14s %7.1f per instance\n", $1, $2, $3}'
done
fi

(( KERNEL != 0 )) || exit 0
echo
echo "4. Kernel CPU and context switches per instance, by thread group and system call (perf record -g"
echo "   -e cpu-clock at ${PERF_HZ} Hz, then -e context-switches; $CG_COUNT instances per set)"
for set in $SETS; do
  for event in cpu-clock context-switches; do
    start "k_$set"
    broker=$(pgrep -P "$GW" | head -n 1 || true)
    if [[ $event == cpu-clock ]]; then opts=(-F "$PERF_HZ"); else opts=(-c 1); fi
    "$PERF" record -e "$event" "${opts[@]}" -g -o "$WORK/k_$set.$event.data" -p "$(echo "$GW" $broker | tr ' ' ,)" \
      >/dev/null 2>&1 & recorder=$!
    PIDS+=("$recorder")
    sleep 1
    $SHIM storescu -aec DEIDGW 127.0.0.1 "$GPORT" +sd "$WORK/cg_$set" >"$WORK/k_storescu_$set.log" 2>&1
    wait_delivered "$GLOG" $((CG_COUNT + 1)) 3600
    kill -INT "$recorder" 2>/dev/null || true; wait "$recorder" 2>/dev/null || true
    stop "$GW"; stop "$SINK"
  done
  echo "$set: kernel CPU (ms per instance; a sample with no system call in its chain is an interrupt or a fault)"
  "$PERF" script -i "$WORK/k_$set.cpu-clock.data" -F comm,ip,sym,dso 2>/dev/null |
    awk -v n="$CG_COUNT" -v hz="$PERF_HZ" '
      function flush() { if (c != "") { t[c]++; if (kern) k[c "\t" (sc != "" ? sc : sys ? "(system call entry/exit)" : "(no system call)")]++ } }
      /^[^ \t]/ {flush(); c = $1; sc = ""; sys = 0; kern = -1; next}
      NF >= 2 { if (kern == -1) kern = ($0 ~ /kernel\.kallsyms/)
                if (sc == "" && $2 ~ /^(__x64_sys_|__do_sys_|ksys_)/) { sc = $2; sub(/^(__x64_sys_|__do_sys_|ksys_)/, "", sc) }
                if ($2 == "do_syscall_64") sys = 1 }
      END {flush(); for (x in k) if (k[x] / hz / n * 1000 >= 0.005) printf "%s\t%.3f\n", x, k[x] / hz / n * 1000
           for (c in t) printf "%s\t(all CPU)\t%.3f\n", c, t[c] / hz / n * 1000}' |
    sort -t$'\t' -k1,1 -k3,3gr | awk -F'\t' '{printf "  %-14s %-24s %7.3f ms\n", $1, $2, $3}'
  echo "$set: context switches per instance (the system call and the first kernel function that waited)"
  "$PERF" script -i "$WORK/k_$set.context-switches.data" -F comm,ip,sym 2>/dev/null |
    awk -v n="$CG_COUNT" '
      function flush() { if (c != "") k[c "\t" (sc == "" ? "(preempted)" : sc) "\t" why]++ }
      /^[^ \t]/ {flush(); c = $1; sc = ""; why = ""; next}
      NF >= 2 { if (sc == "" && $2 ~ /^(__x64_sys_|__do_sys_|ksys_)/) { sc = $2; sub(/^(__x64_sys_|__do_sys_|ksys_)/, "", sc) }
                if (why == "" && $2 !~ /schedule/ && $2 !~ /^finish_task_switch/) why = $2 }
      END {flush(); for (x in k) if (k[x] / n >= 0.1) printf "%s\t%.2f\n", x, k[x] / n}' |
    sort -t$'\t' -k1,1 -k4,4gr | awk -F'\t' '{printf "  %-14s %-12s %-28s %5.2f\n", $1, $2, $3, $4}'
done
