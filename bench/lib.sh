# Sourced by bench/gateway_bench.sh and bench/cpu_profile.sh after `cd` to the repository: the
# settle wait (bench/settle.sh), a work folder $WORK named after BENCH_NAME, the background
# processes $PIDS stopped and $WORK removed on exit, the TCP_NODELAY shim for DCMTK's tools ($SHIM,
# bench/nodelay_shim.c), and the small helpers both use.
source bench/settle.sh
WORK=$(mktemp -d "${TMPDIR:-/tmp}/${BENCH_NAME:?}.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
  settled
}
trap cleanup EXIT
gcc -O2 -shared -fPIC -o "$WORK/nodelay.so" bench/nodelay_shim.c -ldl
SHIM="env LD_PRELOAD=$WORK/nodelay.so"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { # PORT [TENTHS_OF_A_SECOND, default 300]
  for _ in $(seq 1 "${2:-300}"); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1
}
count_files() { find "$1" -type f ! -name '.*' 2>/dev/null | wc -l; }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
