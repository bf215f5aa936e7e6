# Sourced by scripts/scale-out-test.sh and bench/scale_out_bench.sh: the scale-out topology on
# loopback, every process started here and stopped by its pid (cleanup, on EXIT):
#   PostgreSQL (scripts/postgres-scratch.sh) <- brokers 1..2 (deid-keystore serve, one copied
#   secret, keystore.database) <- gateways 1..2 (deid-gateway serve, keystore.socket = own broker)
#   <- HAProxy (packaging/haproxy/haproxy.cfg, C-ECHO checks) <- storescu senders; storescp --fork
#   as the research PACS.
# Needs: ROOT (the checkout), BIN (the built binaries). Sets WORK, URI, LB_PORT, DEST_PORT.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scale-out.XXXXXX")
chmod 0711 "$WORK"   # traversable: the PostgreSQL server may run as another user (root -> postgres)
declare -A PID=()
PG_PID=""
CHUNK=${CHUNK:-5}   # files per storescu run (one association each)
# DCMTK's storescu/storescp do not set TCP_NODELAY (each instance would wait ~45 ms on Nagle and
# delayed ACKs, docs/operations.md): the project's LD_PRELOAD shim sets it when it is built.
SHIM=()
[[ -f $BIN/../tests/gateway/libnodelay_shim.so ]] && SHIM=(env "LD_PRELOAD=$(cd "$BIN/../tests/gateway" && pwd)/libnodelay_shim.so")

cleanup() {
  local name
  for name in "${!PID[@]}"; do kill "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  if [[ -n $PG_PID ]]; then kill -INT "$PG_PID" 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true; fi
  if [[ ${KEEP:-0} = 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

die() { echo "scale-out: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 600); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_for() { # SECONDS COMMAND...: until COMMAND succeeds
  local end=$((SECONDS + $1))
  until "${@:2}"; do (( SECONDS < end )) || return 1; sleep 0.2; done
}

# Exits 77 (skipped) when a tool is missing.
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "scale-out: skipped: $tool is not installed (scripts/install-deps.sh)"; exit 77; }
  done
}

start_postgres() {
  PG_PORT=$(free_port)
  PG_SCRATCH_TEMPLATE="$BIN/../postgres-template" \
    "$ROOT/scripts/postgres-scratch.sh" "$WORK/pg" "$PG_PORT" >"$WORK/postgres.log" 2>&1 &
  PG_PID=$!
  if ! wait_for 180 pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
    local code=0
    wait "$PG_PID" 2>/dev/null || code=$?
    PG_PID=""
    [[ $code = 77 ]] && { echo "scale-out: skipped: $(cat "$WORK/postgres.log")"; exit 77; }
    die "PostgreSQL did not start"
  fi
  createdb -h 127.0.0.1 -p "$PG_PORT" -U deid keystore
  URI="postgresql://deid@127.0.0.1:$PG_PORT/keystore"
}
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$URI" -c "$1"; }

# Broker N on the shared map; brokers after the first get a copy of broker 1's secret.
start_broker() { # N [DATABASE_URI, default $URI; "" = SQLite]
  local database=${2-$URI}
  if [[ $1 != 1 && ! -f $WORK/b$1/keystore/secret.key ]]; then
    install -d -m 0700 "$WORK/b$1" "$WORK/b$1/keystore"
    cp "$WORK/b1/keystore/secret.key" "$WORK/b$1/keystore/secret.key"   # the secret is shared by copying it
  fi
  printf '{"state_dir": "%s", "keystore": {"database": "%s"}}\n' "$WORK/b$1" "$database" >"$WORK/b$1.json"
  "$BIN/deid-keystore" serve --config "$WORK/b$1.json" >>"$WORK/broker$1.log" 2>&1 &
  PID[broker$1]=$!
  wait_for 60 test -S "$WORK/b$1/run/keystore.sock" || die "broker $1 did not start"
}
stop_process() { # NAME
  kill "${PID[$1]}" 2>/dev/null || true
  wait "${PID[$1]}" 2>/dev/null || true
  unset "PID[$1]"
}

start_destination() {
  DEST_PORT=$(free_port)
  mkdir -p "$WORK/dest"
  # +uf: a second copy of an instance gets its own file, so a duplicate delivery is visible.
  "${SHIM[@]}" storescp --fork +uf -aet SINK -od "$WORK/dest" "$DEST_PORT" >"$WORK/storescp.log" 2>&1 &
  PID[storescp]=$!
  wait_port "$DEST_PORT" || die "storescp did not start"
}

declare -A GW_PORT=()
start_gateway() { # N: listens on its own port, asks broker N
  [[ -n ${GW_PORT[$1]:-} ]] || GW_PORT[$1]=$(free_port)
  cat >"$WORK/g$1.json" <<JSON
{"state_dir": "$WORK/g$1", "workers": 2,
 "listen": {"port": ${GW_PORT[$1]}, "ae_title": "DEIDGW"},
 "http": {"port": 0},
 "destinations": [{"name": "research", "ae_title": "SINK", "host": "127.0.0.1", "port": $DEST_PORT, "associations": 2}],
 "retry": {"base_ms": 200, "cap_ms": 2000},
 "keystore": {"socket": "$WORK/b$1/run/keystore.sock"}}
JSON
  "$BIN/deid-gateway" serve --config "$WORK/g$1.json" >>"$WORK/gateway$1.log" 2>&1 &
  PID[gateway$1]=$!
  wait_port "${GW_PORT[$1]}" || die "gateway $1 did not start"
}

# HAProxy from the documented template, in front of gateways 1..COUNT (1 or 2).
start_haproxy() { # COUNT
  LB_PORT=$(free_port)
  local cfg=$ROOT/packaging/haproxy/haproxy.cfg
  if [[ $1 = 1 ]]; then grep -v '^ *server gw2 ' "$cfg" >"$WORK/haproxy1.cfg"; cfg=$WORK/haproxy1.cfg; fi
  DEID_LB_BIND="127.0.0.1:$LB_PORT" DEID_GW1="127.0.0.1:${GW_PORT[1]}" DEID_GW2="127.0.0.1:${GW_PORT[2]:-1}" \
    DEID_ECHO_CHECK="$ROOT/packaging/haproxy/dicom-echo-check.sh" \
    haproxy -db -f "$cfg" >>"$WORK/haproxy.log" 2>&1 &
  PID[haproxy]=$!
  wait_port "$LB_PORT" || die "HAProxy did not start"
  echoscu -to 10 -aec DEIDGW 127.0.0.1 "$LB_PORT" || die "no C-ECHO answer through HAProxy"
}

# A study of N instances for one patient, in three series (dcmodify rewrites the UIDs).
make_study() { # DIR N PATIENT_ID STUDY_UID
  "$BIN/deid-generate" ct --count "$2" --size 64 --out "$1" >/dev/null
  local files=("$1"/*.dcm) i s series
  for s in 1 2 3; do
    series=()
    for (( i = s - 1; i < ${#files[@]}; i += 3 )); do series+=("${files[$i]}"); done
    dcmodify -nb -q -m "(0010,0020)=$3" -m "(0020,000d)=$4" -m "(0020,000e)=$4.$s" -m "(0020,0011)=$s" \
      "${series[@]}"
  done
}

# One sender: storescu runs of CHUNK files each through HAProxy; a file is done when storescu logged
# its Success response; the rest is sent again (at most 15 rounds, 2 s apart), as a PACS resends.
sender() { # LIST_FILE LOG ACKED_FILE
  local round i pending=()
  mapfile -t pending <"$1"
  : >"$3"
  for round in $(seq 1 15); do
    (( ${#pending[@]} )) || return 0
    for (( i = 0; i < ${#pending[@]}; i += CHUNK )); do
      "${SHIM[@]}" storescu -v -to 10 -ta 10 -td 30 -aec DEIDGW 127.0.0.1 "$LB_PORT" "${pending[@]:i:CHUNK}" >>"$2" 2>&1 || true
    done
    # storescu -v logs "Sending file: F" ... "Received Store Response (Success)" per instance.
    python3 - "$2" "$3" <<'PY'
import re, sys
current, acked = None, set()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"Sending file: (\S+)", line)
    if m: current = m.group(1)
    if "Received Store Response (Success)" in line and current: acked.add(current); current = None
open(sys.argv[2], "w").write("".join(f + "\n" for f in sorted(acked)))
PY
    mapfile -t pending < <(sort "$1" | comm -23 - "$3")
    (( ${#pending[@]} )) && sleep 2
  done
  (( ${#pending[@]} == 0 ))
}

send_study() { # DIR TAG SENDERS: the senders at once, each with its share
  find "$1" -name '*.dcm' | sort | split -n "r/$3" - "$WORK/$2.share."
  local share pids=() ok=0 p
  for share in "$WORK/$2".share.*; do
    sender "$share" "$share.log" "$share.acked" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=1; done
  return $ok
}

# Every DICOM file at the destination: "SOPInstanceUID StudyUID SeriesUID PatientID".
dest_index() {
  local f
  for f in "$WORK"/dest/*; do
    [[ -f $f ]] || continue
    # +p: nested occurrences carry their sequence path, so only top-level values are taken.
    dcmdump -q +p +P 0008,0018 +P 0020,000d +P 0020,000e +P 0010,0020 "$f" 2>/dev/null | awk '
      index($1, ".") == 0 && match($0, /\[[^]]*\]/) { v[substr($1, 2, 9)] = substr($0, RSTART + 1, RLENGTH - 2) }
      END { print v["0008,0018"], v["0020,000d"], v["0020,000e"], v["0010,0020"] }'
  done
}
delivered() { find "$WORK/dest" -type f | wc -l; }
# For wait_for (its arguments are expanded once, so counts are compared inside a function).
delivered_at_least() { (( $(delivered) >= $1 )); }
spools_empty() { [[ -z $(find "$WORK"/g*/spool/incoming "$WORK"/g*/spool/outgoing -type f 2>/dev/null | head -n1) ]]; }
gateway_delivered() { grep -c " delivered " "$WORK/gateway$1.log" || true; }
gateway_delivered_at_least() { (( $(gateway_delivered "$1") >= $2 )); }  # N COUNT
