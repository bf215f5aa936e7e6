# Sourced by the benchmarks that create thousands of files. A previous run's clean-up deletes
# thousands of files; on ext4 without a journal, files created in the next minutes are slow to
# allocate (recently_deleted(), see docs/operations.md, Throughput), which slows whatever runs first
# far more than what runs later. So a run starts at least SETTLE_SECONDS (default 300) after the
# previous run's clean-up (any benchmark that sources this); `settled` marks a clean-up done.
STAMP="${TMPDIR:-/tmp}/gateway-bench.cleaned"
SETTLE_SECONDS=${SETTLE_SECONDS:-300}
if [[ -f $STAMP ]]; then
  wait_s=$(( $(stat -c %Y "$STAMP") + SETTLE_SECONDS - $(date +%s) ))
  if (( wait_s > 0 )); then
    echo "waiting ${wait_s} s: the previous run's clean-up was less than ${SETTLE_SECONDS} s ago (SETTLE_SECONDS=0 skips)"
    sleep "$wait_s"
  fi
fi
settled() { touch "$STAMP"; }
