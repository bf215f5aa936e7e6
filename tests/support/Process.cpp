#include "tests/support/Process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace testsupport {

namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
    std::vector<char*> out;
    for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
    out.push_back(nullptr);
    return out;
}

}  // namespace

RunResult run(const std::vector<std::string>& argv, std::chrono::seconds limit, const std::string& stdin_text) {
    int out_pipe[2], in_pipe[2];
    if (pipe(out_pipe) != 0 || pipe(in_pipe) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(out_pipe[1], 2);
        close(out_pipe[0]);
        close(in_pipe[1]);
        auto args = c_argv(argv);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(out_pipe[1]);
    close(in_pipe[0]);
    if (!stdin_text.empty()) {
        ssize_t ignored = write(in_pipe[1], stdin_text.data(), stdin_text.size());
        (void)ignored;
    }
    close(in_pipe[1]);
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);

    RunResult result;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    bool done = false;
    char buf[65536];
    while (true) {
        ssize_t n;
        while ((n = read(out_pipe[0], buf, sizeof buf)) > 0) result.output.append(buf, static_cast<size_t>(n));
        if (done) break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            done = true;  // one more read drains what is left
            continue;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            result.output += "\n[killed: time limit]\n";
            close(out_pipe[0]);
            return result;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    close(out_pipe[0]);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

Child::Child(const std::vector<std::string>& argv, const std::string& log_path) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        setpgid(0, 0);
        const int fd = open(log_path.empty() ? "/dev/null" : log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        const int null_in = open("/dev/null", O_RDONLY);
        dup2(null_in, 0);
        auto args = c_argv(argv);
        execvp(args[0], args.data());
        _exit(127);
    }
}

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !reaped_) stop();
        pid_ = other.pid_;
        status_ = other.status_;
        reaped_ = other.reaped_;
        other.pid_ = -1;
        other.reaped_ = true;
    }
    return *this;
}

Child::~Child() {
    if (pid_ > 0 && !reaped_) stop();
}

bool Child::running() {
    if (pid_ <= 0 || reaped_) return false;
    if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        reaped_ = true;
        return false;
    }
    return true;
}

void Child::signal(int sig) {
    if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int Child::wait(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (running()) {
        if (std::chrono::steady_clock::now() > deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid_ <= 0) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

int Child::stop(std::chrono::seconds grace) {
    if (!running()) return pid_ > 0 && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    kill(pid_, SIGTERM);
    int code = wait(grace);
    if (running()) {
        kill(-pid_, SIGKILL);  // its own process group: children it started go too
        kill(pid_, SIGKILL);
        code = wait(std::chrono::seconds(5));
    }
    return code;
}

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
}

// Binds a TCP socket on 127.0.0.1:port (0: the kernel chooses) and returns the port bound, or 0.
int bind_once(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr = loopback(port);
    socklen_t len = sizeof addr;
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    close(fd);
    return ok ? ntohs(addr.sin_port) : 0;
}

}  // namespace

// Below the kernel's ephemeral range, so that no outgoing connection of a test running beside this
// one (they take their local ports from that range) can hold the port before the peer binds it.
int free_port() {
    int low = 32768, high = 60999;
    if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
        if (std::fscanf(f, "%d %d", &low, &high) != 2) low = 32768;
        std::fclose(f);
    }
    static std::mt19937 random(std::random_device{}());
    if (low > 12000) {
        std::uniform_int_distribution<int> pick(low - 11000, low - 1);
        for (int attempt = 0; attempt < 100; ++attempt)
            if (const int port = bind_once(pick(random))) return port;
    }
    return bind_once(0);  // the kernel's choice, as a last resort
}

bool wait_for_port(int port, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in addr = loopback(port);
        const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        close(fd);
        if (ok) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "deidtest.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
}

}  // namespace testsupport
