// LD_PRELOAD shim for tests: a DCMTK peer (echoscu, storescu, deid-test-echo-flood) connects from
// the address in DEID_SOURCE_ADDRESS (e.g. 127.0.0.2; Linux routes all of 127/8 to lo), so a test
// can play a second host on loopback. Every TCP socket also gets TCP_NODELAY.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>

extern "C" int connect(int fd, const struct sockaddr* addr, socklen_t len) {
    using Fn = int (*)(int, const struct sockaddr*, socklen_t);
    static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "connect"));
    if (addr && addr->sa_family == AF_INET) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (const char* source = std::getenv("DEID_SOURCE_ADDRESS")) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            if (inet_pton(AF_INET, source, &local.sin_addr) == 1)
                bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local);
        }
    }
    return real(fd, addr, len);
}
