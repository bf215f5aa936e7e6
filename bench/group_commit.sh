#!/usr/bin/env bash
# Benchmark (not a test): what the durable write before Success allows when several senders send
# at once, with the spool's present design and with a write-ahead journal that commits in groups.
# THREADS threads (one per sender) each make COUNT receptions of BYTES durable, two ways, alternating:
#   files    as the gateway's receiving threads do: write over a recycled file of the same size,
#            sync_file_range, fdatasync, rename into incoming/, fsync of incoming/ shared with the
#            threads that wait for it at the same time (spool::DirectorySync), then the file goes
#            back to its pool (not synced, as on delivery)
#   journal  each reception written at its own offset of one preallocated, already written and
#            synced file, with the CRC-32 (zlib) of its bytes that a journal needs to tell a torn
#            record after a crash; one fdatasync, started after the write, makes it durable and
#            covers every reception written before it began (group commit: a thread that finds a
#            sync running waits for the next one)
# and prints receptions/s, the durable wait per reception (p50, p99) and the CPU (user + system)
# per reception. Each reception's fdatasync asks the disk to flush its cache; in a group commit
# one flush serves every sender waiting at that moment.
#
#   bench/group_commit.sh [DIR] [COUNT] [BYTES]   (defaults: a temp folder under $TMPDIR, 1000,
#   8800 (a CT 64x64)); THREADS="1 4" (default) the sender counts; ROUNDS=N (default 2)
set -euo pipefail
DIR=${1:-}
COUNT=${2:-1000}
BYTES=${3:-8800}
THREADS=${THREADS:-1 4}
ROUNDS=${ROUNDS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/group-commit.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[[ -n $DIR ]] || DIR=$WORK/files
mkdir -p "$DIR"
cat >"$WORK/group_commit.c" <<'C'
/* See bench/group_commit.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static int count, threads, journal; static size_t size; static const char *dir; static char *buf;
static int journal_fd, incoming_fd; static double *waits;
static void die(const char *what) { perror(what); exit(2); }
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

/* One sync at a time; a caller is done when a sync that started after its call has ended. */
struct group { pthread_mutex_t m; pthread_cond_t c; long started, done; int running; };
static struct group dir_group = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
static struct group journal_group = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
static void group_sync(struct group *g, int fd, int data_only) {
  pthread_mutex_lock(&g->m);
  long need = g->started + 1; /* the next sync to start covers what this caller wrote */
  while (g->done < need) {
    if (!g->running) {
      g->running = 1; long mine = ++g->started; pthread_mutex_unlock(&g->m);
      if ((data_only ? fdatasync(fd) : fsync(fd)) != 0) die("sync");
      pthread_mutex_lock(&g->m); g->running = 0; g->done = mine; pthread_cond_broadcast(&g->c);
    } else {
      pthread_cond_wait(&g->c, &g->m);
    }
  }
  pthread_mutex_unlock(&g->m);
}

static void *sender(void *arg) {
  long t = (long)arg; char pool[512], in[512];
  unsigned char *record = malloc(size); memcpy(record, buf, size);
  snprintf(pool, sizeof pool, "%s/pool-%ld", dir, t);
  int fd = open(pool, O_RDWR | O_CREAT, 0600); if (fd < 0) die("open");
  if (pwrite(fd, buf, size, 0) != (ssize_t)size || fdatasync(fd)) die("prepare");
  for (int i = 0; i < count; ++i) {
    double start;
    if (journal) {
      off_t at = ((off_t)t * count + i) * (off_t)size;
      record[8] = (unsigned char)i; /* a record of its own: id and length in its header */
      uLong crc = crc32(0L, record + 4, (uInt)(size - 4)); memcpy(record, &crc, 4);
      if (pwrite(journal_fd, record, size, at) != (ssize_t)size) die("pwrite");
      start = now();
      group_sync(&journal_group, journal_fd, 1);
    } else {
      if (pwrite(fd, buf, size, 0) != (ssize_t)size || ftruncate(fd, (off_t)size)) die("write");
      sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
      start = now();
      if (fdatasync(fd)) die("fdatasync");
      snprintf(in, sizeof in, "%s/incoming/%ld-%d", dir, t, i);
      if (rename(pool, in)) die("rename");
      group_sync(&dir_group, incoming_fd, 0);
      if (rename(in, pool)) die("rename back"); /* delivered: back to its pool, not synced */
    }
    waits[t * count + i] = now() - start;
  }
  close(fd); free(record);
  return 0;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static double cpu(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6; }

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: group_commit DIR COUNT BYTES THREADS files|journal\n"); return 2; }
  dir = argv[1]; count = atoi(argv[2]); size = (size_t)atol(argv[3]); threads = atoi(argv[4]); journal = !strcmp(argv[5], "journal");
  buf = malloc(size); memset(buf, 7, size); waits = calloc((size_t)threads * count, sizeof *waits);
  char path[512]; snprintf(path, sizeof path, "%s/incoming", dir); mkdir(path, 0700);
  incoming_fd = open(path, O_RDONLY | O_DIRECTORY); if (incoming_fd < 0) die("incoming");
  if (journal) {
    snprintf(path, sizeof path, "%s/journal", dir);
    journal_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600); if (journal_fd < 0) die("journal");
    for (long i = 0; i < (long)threads * count; ++i) if (pwrite(journal_fd, buf, size, i * (off_t)size) != (ssize_t)size) die("preallocate");
    if (fsync(journal_fd) || fsync(open(dir, O_RDONLY | O_DIRECTORY))) die("fsync");
  }
  pthread_t th[64]; double c0 = cpu(), t0 = now();
  for (long t = 0; t < threads; ++t) pthread_create(&th[t], 0, sender, (void *)t);
  for (int t = 0; t < threads; ++t) pthread_join(th[t], 0);
  double wall = now() - t0, used = cpu() - c0; long n = (long)threads * count;
  qsort(waits, (size_t)n, sizeof *waits, cmp);
  printf("%-8s %2d sender(s) %6ld receptions %8.1f /s   durable wait p50 %6.3f ms  p99 %6.3f ms   CPU %.3f ms per reception   %ld syncs\n",
         argv[5], threads, n, n / wall, waits[n / 2] * 1e3, waits[n * 99 / 100] * 1e3, used * 1e3 / n,
         journal ? journal_group.done : dir_group.done);
  return 0;
}
C
[[ -f /usr/include/zlib.h ]] || { echo "missing zlib.h (Debian zlib1g-dev, scripts/install-deps.sh)" >&2; exit 2; }
gcc -O2 -pthread -o "$WORK/group_commit" "$WORK/group_commit.c" -lz
echo "$COUNT receptions of $BYTES bytes per sender, on $(df -P "$DIR" | awk 'NR==2 {print $1}') ($(findmnt -no FSTYPE,OPTIONS -T "$DIR" 2>/dev/null || echo '?'))"
for ((round = 1; round <= ROUNDS; ++round)); do
  for n in $THREADS; do
    for mode in files journal; do
      rm -rf "${DIR:?}"/*
      "$WORK/group_commit" "$DIR" "$COUNT" "$BYTES" "$n" "$mode"
    done
  done
done
rm -rf "${DIR:?}"/*
