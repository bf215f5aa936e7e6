#include "keystore/BrokerProcess.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "keystore/BrokerConnection.h"

namespace keystore {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartLimit = std::chrono::seconds(15);
constexpr auto kStopLimit = std::chrono::seconds(10);

// deid-keystore next to the running executable, else the bare name (execvp searches PATH).
std::string keystore_executable() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path candidate = self.parent_path() / "deid-keystore";
        if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return "deid-keystore";
}

std::string exit_reason(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "stopped";
}

// True when a broker answers on the socket (and, with expected_pid > 0, it is that process).
bool answers_health(const std::string& socket_path, long expected_pid = 0) {
    try {
        BrokerConnection c(socket_path, std::chrono::seconds(2));
        const auto reply = c.request({{"op", "health"}});
        if (!reply.is_object() || !reply.value("ok", false)) return false;
        return expected_pid <= 0 || reply.value("pid", 0L) == expected_pid;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

BrokerProcess::BrokerProcess(const config::Config& config) : socket_path_(config.broker_socket()) {
    if (!config.keystore.socket.empty()) {
        if (!answers_health(socket_path_))
            throw std::runtime_error("the keystore broker at keystore.socket " + socket_path_ +
                                     " does not answer a health request");
        return;
    }
    const std::string exe = keystore_executable();
    std::vector<std::string> args = {exe, "serve"};
    if (!config.source_path.empty()) {
        args.push_back("--config");
        args.push_back(config.source_path);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("cannot start the keystore broker: fork failed");
    if (pid == 0) {
        // Do not outlive the gateway if it dies without running its destructors.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        // A clean slate: the caller may block signals in its threads and hold sockets open.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        close_range(3, ~0U, 0);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    child_pid_ = pid;

    const auto deadline = Clock::now() + kStartLimit;
    while (true) {
        int status = 0;
        if (waitpid(child_pid_, &status, WNOHANG) == child_pid_) {
            child_pid_ = -1;
            std::string reason = exit_reason(status);
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127) reason += " (deid-keystore not found)";
            throw std::runtime_error("the keystore broker (" + exe + " serve) " + reason +
                                     " before answering; see its messages above");
        }
        if (answers_health(socket_path_, child_pid_)) return;
        if (Clock::now() > deadline) {
            stop_child();
            throw std::runtime_error("the keystore broker did not answer on " + socket_path_ + " within " +
                                     std::to_string(kStartLimit.count()) + " s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void BrokerProcess::stop_child() {
    if (child_pid_ <= 0) return;
    kill(child_pid_, SIGTERM);
    const auto deadline = Clock::now() + kStopLimit;
    int status = 0;
    while (waitpid(child_pid_, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            kill(child_pid_, SIGKILL);
            waitpid(child_pid_, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    child_pid_ = -1;
}

BrokerProcess::~BrokerProcess() { stop_child(); }

}  // namespace keystore
