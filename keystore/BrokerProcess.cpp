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
    args_ = {keystore_executable(), "serve"};
    if (!config.source_path.empty()) {
        args_.push_back("--config");
        args_.push_back(config.source_path);
    }
    start_child();
}

void BrokerProcess::start_child() {
    std::vector<std::string> args = args_;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("cannot start the keystore broker: fork failed");
    if (pid == 0) {
        // Its own process group: a terminal's Ctrl-C (SIGINT to the foreground group) reaches the
        // gateway only, which drains and then stops the broker itself.
        setpgid(0, 0);
        // Do not outlive the gateway if it dies without running its destructors.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(1);
        // A clean slate: the caller may block signals in its threads and hold sockets open.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        close_range(3, ~0U, 0);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    setpgid(pid, pid);  // also from the parent: no window in which a Ctrl-C reaches both
    child_pid_ = pid;

    const auto deadline = Clock::now() + kStartLimit;
    while (true) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            child_pid_ = -1;
            std::string reason = exit_reason(status);
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127) reason += " (deid-keystore not found)";
            throw std::runtime_error("the keystore broker (" + args_[0] + " serve) " + reason +
                                     " before answering; see its messages above");
        }
        if (answers_health(socket_path_, pid)) return;
        if (Clock::now() > deadline) {
            stop_child();
            throw std::runtime_error("the keystore broker did not answer on " + socket_path_ + " within " +
                                     std::to_string(kStartLimit.count()) + " s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void BrokerProcess::supervise(Observer observer) {
    if (child_pid_ <= 0 || watcher_.joinable()) return;
    observer_ = std::move(observer);
    watcher_ = std::thread([this] { watch(); });
}

void BrokerProcess::watch() {
    auto report = [this](Event e, const std::string& m) {
        if (observer_) observer_(e, m);
    };
    auto backoff = std::chrono::milliseconds(500);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        cv_.wait_for(lock, std::chrono::milliseconds(200));
        if (stopping_) return;
        const pid_t pid = static_cast<pid_t>(child_pid_.load());
        int status = 0;
        if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid) continue;
        child_pid_ = -1;
        up_ = false;
        report(Event::died, "the keystore broker (pid " + std::to_string(pid) + ") " + exit_reason(status) +
                                "; instances wait in the spool; restarting it in " +
                                std::to_string(backoff.count()) + " ms");
        while (!stopping_) {
            cv_.wait_for(lock, backoff);
            if (stopping_) return;
            lock.unlock();
            std::string failure;
            try {
                start_child();
            } catch (const std::exception& e) {
                failure = e.what();
            }
            lock.lock();
            if (failure.empty()) {
                up_ = true;
                report(Event::restarted, "the keystore broker answers again (pid " +
                                             std::to_string(child_pid_.load()) + ")");
                backoff = std::chrono::milliseconds(500);
                break;
            }
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
            report(Event::restart_failed,
                   "cannot restart the keystore broker: " + failure + "; next try in " +
                       std::to_string(backoff.count()) + " ms");
        }
    }
}

void BrokerProcess::stop_child() {
    const pid_t pid = static_cast<pid_t>(child_pid_.load());
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    const auto deadline = Clock::now() + kStopLimit;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    child_pid_ = -1;
}

BrokerProcess::~BrokerProcess() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    stop_child();
}

}  // namespace keystore
