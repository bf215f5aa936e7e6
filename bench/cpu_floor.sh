#!/usr/bin/env bash
# Benchmark (not a test): the CPU that the gateway's path costs in system calls alone, per instance,
# with no DICOM, JSON, de-identification or logging at all: the floor under the figures that
# bench/gateway_bench.sh and bench/cpu_profile.sh print. A C program plays every part with the same
# calls the gateway makes, on the spool's file system and loopback:
#   sender (storescu) -TCP-> receiving thread: recv, write over a recycled file, cut it to its length,
#     sync_file_range, fdatasync, rename into incoming/, fsync incoming/, answer (Success)
#   -> worker thread (mutex + condition variable): a question to the broker process over a Unix
#     socket (the broker: one SQLite WAL transaction, synchronous=NORMAL, as keystore.db: a new UID
#     row with its two indexes, the counts row, an audit row), the output written over a recycled
#     file and renamed into outgoing/ (not synced)
#   -> forwarder thread: the output read back, sent over TCP to a sink (storescp), its answer read,
#     both files renamed back to their pools.
# CPU is user + system of the gateway process and of the broker process (wait4), per instance.
# Modes, alternating, ROUNDS times:
#   files (as the gateway)        the steps above
#   files, outputs in memory      the output handed to the forwarder in memory: no output file
#   files, no folder fsync        UNSAFE (a rename not yet durable is acknowledged): only to show
#                                 what the folder fsync costs
#   journal, outputs in memory    each received instance written over one preallocated, already
#                                 written file (no size change, no rename: the fdatasync carries no
#                                 metadata), as a write-ahead log does
#
#   bench/cpu_floor.sh [DIR] [COUNT] [BYTES]   (defaults: a temp folder under $TMPDIR, 3000, 8800
#   (a CT 64x64; 530000 is a CT 512x512)); ROUNDS=N (default 2)
set -euo pipefail
DIR=${1:-}
COUNT=${2:-3000}
BYTES=${3:-8800}
ROUNDS=${ROUNDS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cpu-floor.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
[[ -n $DIR ]] || DIR=$WORK/files
mkdir -p "$DIR"
[[ -f /usr/include/sqlite3.h ]] || { echo "missing sqlite3.h (Debian libsqlite3-dev, scripts/install-deps.sh)" >&2; exit 2; }
cat >"$WORK/cpu_floor.c" <<'C'
/* The system calls of the gateway's path per instance, and nothing else: see bench/cpu_floor.sh. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int n_instances; static size_t size; static const char *dir; static int use_db; static int journal;
static void die(const char *what) { perror(what); exit(2); }
static void send_all(int fd, const char *p, size_t n) {
  while (n) { ssize_t k = send(fd, p, n, MSG_NOSIGNAL); if (k < 0) { if (errno == EINTR) continue; die("send"); } p += k; n -= (size_t)k; }
}
static void recv_all(int fd, char *p, size_t n) {
  while (n) { ssize_t k = recv(fd, p, n, 0); if (k <= 0) { if (k < 0 && errno == EINTR) continue; die("recv"); } p += k; n -= (size_t)k; }
}
static int tcp_listen(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4)) die("listen");
  socklen_t l = sizeof a; getsockname(s, (struct sockaddr *)&a, &l); *port = ntohs(a.sin_port); return s;
}
static int tcp_connect(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {0}; a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); a.sin_port = htons((unsigned short)port);
  if (connect(s, (struct sockaddr *)&a, sizeof a)) die("connect"); int one = 1; setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); return s;
}
static int tcp_accept(int l) { int s = accept(l, 0, 0); if (s < 0) die("accept"); int one = 1; setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); return s; }

/* A sender (storescu) and a sink (storescp): an instance out, a 100-byte answer back. Not counted. */
static void peer_send(int port) {
  int s = tcp_connect(port); char *buf = malloc(size); memset(buf, 7, size); char rsp[100];
  for (int i = 0; i < n_instances; i++) { buf[i % size]++; send_all(s, buf, size); recv_all(s, rsp, sizeof rsp); }
  close(s); exit(0);
}
static void peer_sink(int l) {
  int s = tcp_accept(l); char *buf = malloc(size); char rsp[100] = {0};
  for (int i = 0; i < n_instances; i++) { recv_all(s, buf, size); send_all(s, rsp, sizeof rsp); }
  close(s); exit(0);
}
/* The broker: a question in, one SQLite transaction (a new UID row, the counts, an audit row), the answer out. */
static void broker(int l) {
  sqlite3 *db = 0; char path[4096]; snprintf(path, sizeof path, "%s/keystore.db", dir);
  if (use_db) {
    if (sqlite3_open(path, &db)) die("sqlite3_open");
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE uids(original TEXT PRIMARY KEY, new TEXT NOT NULL UNIQUE, first_seen TEXT);"
                     "CREATE TABLE counts(name TEXT PRIMARY KEY, n INTEGER); INSERT INTO counts VALUES('uids', 0);"
                     "CREATE TABLE audit(seq INTEGER PRIMARY KEY, time TEXT, detail TEXT, hash TEXT);", 0, 0, 0);
  }
  sqlite3_stmt *ins = 0, *cnt = 0, *aud = 0;
  if (db) {
    sqlite3_prepare_v2(db, "INSERT INTO uids VALUES(?, ?, '2026-12-02T00:00:00Z')", -1, &ins, 0);
    sqlite3_prepare_v2(db, "UPDATE counts SET n = n + 1 WHERE name = 'uids'", -1, &cnt, 0);
    sqlite3_prepare_v2(db, "INSERT INTO audit(time, detail, hash) VALUES('2026-12-02T00:00:00Z', ?, "
                           "'0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef')", -1, &aud, 0);
  }
  int s = accept(l, 0, 0); char q[300], a[200] = {0}, o[64], nw[64];
  for (int i = 0; i < n_instances; i++) {
    struct pollfd p = {s, POLLIN, 0}; poll(&p, 1, -1); recv_all(s, q, sizeof q);
    if (db) {
      snprintf(o, sizeof o, "1.2.826.0.1.3680043.2.1125.%d.%d", getpid(), i);
      snprintf(nw, sizeof nw, "2.25.%d%08d", getpid(), i);
      sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
      sqlite3_bind_text(ins, 1, o, -1, SQLITE_TRANSIENT); sqlite3_bind_text(ins, 2, nw, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(ins) != SQLITE_DONE) die("insert"); sqlite3_reset(ins);
      sqlite3_step(cnt); sqlite3_reset(cnt);
      sqlite3_bind_text(aud, 1, nw, -1, SQLITE_TRANSIENT); sqlite3_step(aud); sqlite3_reset(aud);
      sqlite3_exec(db, "COMMIT", 0, 0, 0);
    }
    send_all(s, a, sizeof a);
  }
  exit(0);
}

/* The gateway: receive thread, worker thread, forwarder thread, queues between them. */
struct queue { pthread_mutex_t m; pthread_cond_t c; int head, tail; int items[1 << 16]; };
static struct queue to_worker = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
static struct queue to_forwarder = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {0}};
static void push(struct queue *q, int v) { pthread_mutex_lock(&q->m); q->items[q->tail++ & 0xffff] = v; pthread_cond_signal(&q->c); pthread_mutex_unlock(&q->m); }
static int pop(struct queue *q) { pthread_mutex_lock(&q->m); while (q->head == q->tail) pthread_cond_wait(&q->c, &q->m); int v = q->items[q->head++ & 0xffff]; pthread_mutex_unlock(&q->m); return v; }
static char un_path[4096]; static int sink_port, listen_fd;
static void name(char *out, const char *folder, int i) { snprintf(out, 4096, "%s/%s/%d", dir, folder, i); }
static void *worker(void *unused) {
  (void)unused; int b = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un a = {0}; a.sun_family = AF_UNIX;
  strncpy(a.sun_path, un_path, sizeof a.sun_path - 1); if (connect(b, (struct sockaddr *)&a, sizeof a)) die("connect broker");
  char *buf = malloc(size); memset(buf, 9, size); char q[300] = {0}, r[200], from[4096], to[4096];
  for (int i = 0; i < n_instances; i++) {
    int id = pop(&to_worker);
    send_all(b, q, sizeof q); struct pollfd p = {b, POLLIN, 0}; poll(&p, 1, -1); recv_all(b, r, sizeof r);
    if (!(journal & 2)) {
      name(from, "free-out", id % 16); name(to, "outgoing", id);  /* an output written over a recycled file, not synced */
      int fd = open(from, O_RDWR | O_CREAT, 0600); if (pwrite(fd, buf, size, 0) < 0 || ftruncate(fd, (off_t)size)) die("output");
      close(fd); if (rename(from, to)) die("rename output");
    }
    push(&to_forwarder, id);
  }
  return 0;
}
static void *forwarder(void *unused) {
  (void)unused; int s = tcp_connect(sink_port); char *buf = malloc(size); char rsp[100], from[4096], to[4096];
  for (int i = 0; i < n_instances; i++) {
    int id = pop(&to_forwarder);
    if (!(journal & 2)) { name(from, "outgoing", id); int fd = open(from, O_RDONLY); if (fd < 0 || read(fd, buf, size) < 0) die("read output"); close(fd); }
    send_all(s, buf, size); struct pollfd p = {s, POLLIN, 0}; poll(&p, 1, -1); recv_all(s, rsp, sizeof rsp);
    if (!(journal & 2)) { name(to, "free-out", id % 16); rename(from, to); }
    if (journal & 1) continue;            /* delivered: the output file back to its pool */
    name(from, "incoming", id); name(to, "free", id % 16); rename(from, to);  /* and the original to its pool */
  }
  return 0;
}
static void gateway(void) {
  pthread_t w, f; pthread_create(&w, 0, worker, 0); pthread_create(&f, 0, forwarder, 0);
  int s = tcp_accept(listen_fd); char incoming[4096]; snprintf(incoming, sizeof incoming, "%s/incoming", dir);
  int dfd = open(incoming, O_RDONLY | O_DIRECTORY);
  char jpath[4096]; snprintf(jpath, sizeof jpath, "%s/journal", dir);
  int jfd = open(jpath, O_RDWR | O_CREAT, 0600); const off_t slots = 64;
  if (journal & 1) { if (posix_fallocate(jfd, 0, slots * (off_t)size)) die("fallocate"); char *z = calloc(1, size);
    for (off_t k = 0; k < slots; k++) if (pwrite(jfd, z, size, k * (off_t)size) < 0) die("journal"); fdatasync(jfd); free(z); }
  char *buf = malloc(size); char rsp[100] = {0}, from[4096], to[4096];
  for (int i = 0; i < n_instances; i++) {
    struct pollfd p = {s, POLLIN, 0}; poll(&p, 1, -1); recv_all(s, buf, size);
    if (journal & 1) {  /* one preallocated, already written file: the write changes no metadata */
      if (pwrite(jfd, buf, size, (i % slots) * (off_t)size) < 0 || fdatasync(jfd)) die("journal write");
      send_all(s, rsp, sizeof rsp); push(&to_worker, i); continue;
    }
    name(from, "free", i % 16); name(to, "incoming", i);
    const size_t len = size - (size_t)(i % 3);  /* instances differ a little in length, as real ones do */
    int fd = open(from, O_RDWR | O_CREAT, 0600); if (pwrite(fd, buf, len, 0) < 0 || ftruncate(fd, (off_t)len)) die("receive");
    sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    if (fdatasync(fd)) die("fdatasync");
    if (!(journal & 4) && (rename(from, to) || fsync(dfd))) die("durable write");
    if (journal & 4) rename(from, to);
    close(fd);
    send_all(s, rsp, sizeof rsp);                                /* Success, after the durable write */
    push(&to_worker, i);
  }
  pthread_join(w, 0); pthread_join(f, 0); exit(0);
}
static double cpu_ms(const struct rusage *u) {
  return (u->ru_utime.tv_sec + u->ru_stime.tv_sec) * 1e3 + (u->ru_utime.tv_usec + u->ru_stime.tv_usec) / 1e3;
}
int main(int argc, char **argv) {
  dir = argv[1]; n_instances = atoi(argv[2]); size = strtoul(argv[3], 0, 10); use_db = atoi(argv[4]); journal = argc > 5 ? atoi(argv[5]) : 0;
  const char *folders[] = {"free", "incoming", "free-out", "outgoing"};
  for (int i = 0; i < 4; i++) { char p[4096]; snprintf(p, sizeof p, "%s/%s", dir, folders[i]); mkdir(p, 0700); }
  snprintf(un_path, sizeof un_path, "%s/broker.sock", dir);
  int ul = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un a = {0}; a.sun_family = AF_UNIX; strncpy(a.sun_path, un_path, sizeof a.sun_path - 1);
  unlink(un_path); if (bind(ul, (struct sockaddr *)&a, sizeof a) || listen(ul, 4)) die("broker socket");
  int gw_port, sink_l = tcp_listen(&sink_port); listen_fd = tcp_listen(&gw_port);
  pid_t pb = fork(); if (!pb) broker(ul);
  pid_t ps = fork(); if (!ps) peer_sink(sink_l);
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pg = fork(); if (!pg) gateway();
  pid_t pc = fork(); if (!pc) peer_send(gw_port);
  double gw = 0, br = 0; struct rusage u; int st;
  for (int k = 0; k < 4; k++) { pid_t p = wait4(-1, &st, 0, &u); if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "a child failed\n"); return 2; }
    if (p == pg) gw = cpu_ms(&u); if (p == pb) br = cpu_ms(&u); }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%-32s %-6s %zu bytes: gateway %.3f + broker %.3f = %.3f ms CPU per instance; %.0f instances/s (%d instances)\n",
         (const char*[]){"files (as the gateway)", "journal", "files, outputs in memory", "journal, outputs in memory", "files, no folder fsync (unsafe)", "", "", ""}[journal], use_db ? "SQLite" : "no db", size, gw / n_instances, br / n_instances,
         (gw + br) / n_instances, n_instances / secs, n_instances);
  return 0;
}
C
gcc -O2 -Wall -Wno-misleading-indentation -Wno-stringop-truncation -o "$WORK/cpu_floor" "$WORK/cpu_floor.c" -lpthread -lsqlite3
echo "folder: $DIR ($(findmnt -n -o FSTYPE,OPTIONS --target "$DIR" 2>/dev/null || echo unknown)), $(nproc) cores"
for round in $(seq "$ROUNDS"); do
  for mode in 0 2 4 3; do
    rm -rf "$DIR/run" && mkdir -p "$DIR/run"
    timeout 300 "$WORK/cpu_floor" "$DIR/run" "$COUNT" "$BYTES" 1 "$mode"
  done
done
rm -rf "$DIR/run"
