/* LD_PRELOAD shim for the benchmarks (bench/gateway_bench.sh, bench/cpu_profile.sh): TCP_NODELAY on
 * every TCP socket that a tool (storescu, storescp, Orthanc) connects or accepts. Without it each
 * instance waits about 40 ms on Nagle's algorithm and delayed ACKs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
int connect(int fd, const struct sockaddr *a, socklen_t l) {
  static int (*real)(int, const struct sockaddr *, socklen_t);
  if (!real) real = dlsym(RTLD_NEXT, "connect");
  if (a && (a->sa_family == AF_INET || a->sa_family == AF_INET6)) nodelay(fd);
  return real(fd, a, l);
}
int accept(int fd, struct sockaddr *a, socklen_t *l) {
  static int (*real)(int, struct sockaddr *, socklen_t *);
  if (!real) real = dlsym(RTLD_NEXT, "accept");
  int s = real(fd, a, l); if (s >= 0) nodelay(s); return s;
}
int accept4(int fd, struct sockaddr *a, socklen_t *l, int f) {
  static int (*real)(int, struct sockaddr *, socklen_t *, int);
  if (!real) real = dlsym(RTLD_NEXT, "accept4");
  int s = real(fd, a, l, f); if (s >= 0) nodelay(s); return s;
}
