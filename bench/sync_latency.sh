#!/usr/bin/env bash
# Benchmark (not a test): how long an fdatasync of a received-size file takes on the spool's disk
# while another thread writes files of the same size in three ways:
#   idle       nothing else runs
#   truncate   the other thread empties and rewrites its files (frees blocks: with the `discard`
#              mount option, each freed block is a discard request)
#   overwrite  the other thread writes over its files in place (no block freed)
# This is why the gateway recycles spool files with their blocks (docs/operations.md, Throughput).
#
#   bench/sync_latency.sh [DIR] [COUNT] [BYTES]   (defaults: a temp folder under $TMPDIR, 400, 530000)
set -euo pipefail
DIR=${1:-}
COUNT=${2:-400}
BYTES=${3:-530000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sync-latency.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[[ -n $DIR ]] || DIR=$WORK/files
mkdir -p "$DIR"
cat >"$WORK/sync_latency.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static size_t size; static char *buf, *dir; static volatile int stop; static int mode;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void *other(void *unused) {
  (void)unused; char p[4096]; int i = 0;
  while (!stop) {
    snprintf(p, sizeof p, "%s/other-%d", dir, i++ % 8);
    if (mode == 1) { int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600); if (write(fd, buf, size) < 0) perror("write"); close(fd); }
    if (mode == 2) { int fd = open(p, O_WRONLY | O_CREAT, 0600); if (pwrite(fd, buf, size, 0) < 0) perror("pwrite"); close(fd); }
    usleep(2000);
  }
  return 0;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  dir = argv[1]; int n = atoi(argv[2]); size = strtoul(argv[3], 0, 10); mode = atoi(argv[4]);
  buf = malloc(size); memset(buf, 7, size);
  double *t = calloc(n, sizeof *t);
  pthread_t th; pthread_create(&th, 0, other, 0);
  char p[4096];
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/received-%d", dir, i % 16);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    if (pwrite(fd, buf, size, 0) < 0) perror("pwrite");
    double t0 = now(); fdatasync(fd); t[i] = now() - t0; close(fd);
  }
  stop = 1; pthread_join(th, 0);
  double sum = 0; for (int i = 0; i < n; i++) sum += t[i];
  qsort(t, n, sizeof *t, cmp);
  printf("%-10s fdatasync of %zu bytes: mean %.3f ms  p50 %.3f ms  p90 %.3f ms  (%d syncs)\n",
         mode == 0 ? "idle" : mode == 1 ? "truncate" : "overwrite", size, sum / n * 1e3, t[n / 2] * 1e3, t[n * 9 / 10] * 1e3, n);
  return 0;
}
C
gcc -O2 -o "$WORK/sync_latency" "$WORK/sync_latency.c" -lpthread
echo "folder: $DIR ($(findmnt -n -o FSTYPE,OPTIONS --target "$DIR" 2>/dev/null || echo unknown))"
for mode in 0 1 2 0 1 2; do "$WORK/sync_latency" "$DIR" "$COUNT" "$BYTES" "$mode"; done
