#!/usr/bin/env bash
# Benchmark (not a test): what starting write-back early saves on the durable write before Success.
# It repeats the receiving thread's steps for one instance (dimse::StoreScp, spool::Spool::accept_incoming):
# write over a recycled file, cut it to its length, WORK_US of CPU work (the parse and checks of the
# data set), fdatasync, rename into a folder, fsync that folder; once as before 2026-12-02 and once
# with sync_file_range(SYNC_FILE_RANGE_WRITE) right after the cut, alternating, and prints the
# median and p90 time from the write to the folder's fsync for each.
#
#   bench/write_back_early.sh [DIR] [COUNT] [BYTES] [WORK_US]
#   (defaults: a temp folder under $TMPDIR, 1000, 8800 (a CT 64x64), 80)
set -euo pipefail
DIR=${1:-}
COUNT=${2:-1000}
BYTES=${3:-8800}
WORK_US=${4:-80}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/write-back-early.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[[ -n $DIR ]] || DIR=$WORK/files
mkdir -p "$DIR/incoming"
cat >"$WORK/write_back_early.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static void busy(double us) { double s = now_us(); while (now_us() - s < us) {} }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  const char *dir = argv[1]; int n = atoi(argv[2]); size_t size = strtoul(argv[3], 0, 10); double work = atof(argv[4]);
  char *buf = malloc(size); memset(buf, 7, size);
  char in[4096]; snprintf(in, sizeof in, "%s/incoming", dir);
  int dfd = open(in, O_RDONLY | O_DIRECTORY);
  double *t[2] = {calloc(n, sizeof(double)), calloc(n, sizeof(double))};
  for (int i = 0; i < 2 * n; i++) {
    int early = i % 2;
    char p[4096], q[4096];
    snprintf(p, sizeof p, "%s/free-%d", dir, i % 16);
    snprintf(q, sizeof q, "%s/incoming/received-%d", dir, i);
    size_t len = size - (size_t)(i % 3);  /* instances differ a little in length */
    buf[i % len]++;
    double t0 = now_us();
    int fd = open(p, O_RDWR | O_CREAT, 0600);
    if (pwrite(fd, buf, len, 0) < 0 || ftruncate(fd, (off_t)len) != 0) perror("write");
    if (early) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    busy(work);
    if (fdatasync(fd) != 0 || rename(p, q) != 0 || fsync(dfd) != 0) perror("sync");
    close(fd);
    t[early][i / 2] = now_us() - t0;
    rename(q, p);  /* back to the pool, as the gateway recycles delivered files */
  }
  for (int e = 0; e < 2; e++) {
    qsort(t[e], n, sizeof(double), cmp);
    printf("%-28s %zu bytes, %.0f us of work: p50 %.1f us  p90 %.1f us  (%d instances)\n",
           e ? "write-back started early" : "write-back at the fdatasync", size, work, t[e][n / 2], t[e][n * 9 / 10], n);
  }
  return 0;
}
C
gcc -O2 -o "$WORK/write_back_early" "$WORK/write_back_early.c"
echo "folder: $DIR ($(findmnt -n -o FSTYPE,OPTIONS --target "$DIR" 2>/dev/null || echo unknown))"
for round in 1 2 3; do "$WORK/write_back_early" "$DIR" "$COUNT" "$BYTES" "$WORK_US"; done
