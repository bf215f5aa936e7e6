// LD_PRELOAD shim for the DCMTK command-line peers used in tests and bench: sets TCP_NODELAY on
// every TCP socket they connect or accept (DCMTK 3.6.7 does not; see docs/architecture.md).
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {
void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on non-TCP sockets
}
}  // namespace

extern "C" int connect(int fd, const struct sockaddr* addr, socklen_t len) {
    using Fn = int (*)(int, const struct sockaddr*, socklen_t);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "connect"));
    if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) nodelay(fd);
    return real(fd, addr, len);
}

extern "C" int accept(int fd, struct sockaddr* addr, socklen_t* len) {
    using Fn = int (*)(int, struct sockaddr*, socklen_t*);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept"));
    const int s = real(fd, addr, len);
    if (s >= 0) nodelay(s);
    return s;
}

extern "C" int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
    using Fn = int (*)(int, struct sockaddr*, socklen_t*, int);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "accept4"));
    const int s = real(fd, addr, len, flags);
    if (s >= 0) nodelay(s);
    return s;
}
