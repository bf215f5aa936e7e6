// Test support: run the project's binaries and real peers (storescp, Orthanc, ...) as child
// processes, with bounded time, and stop them by process id.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace testsupport {

struct RunResult {
    int exit_code = -1;   // -1 when killed by the time limit or a signal
    std::string output;   // stdout and stderr, interleaved
};

// Runs argv[0] with arguments, waits at most `limit`, captures stdout+stderr.
RunResult run(const std::vector<std::string>& argv, std::chrono::seconds limit = std::chrono::seconds(60),
              const std::string& stdin_text = "");

// A background child; stopped (SIGTERM, then SIGKILL after 5 s) when destroyed.
class Child {
public:
    Child() = default;
    // Output goes to `log_path` (or /dev/null when empty).
    Child(const std::vector<std::string>& argv, const std::string& log_path = "");
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    ~Child();
    pid_t pid() const { return pid_; }
    bool running();                     // false once it exited
    void signal(int sig);               // e.g. SIGKILL
    int stop(std::chrono::seconds grace = std::chrono::seconds(5));  // SIGTERM, wait, SIGKILL; exit code
    int wait(std::chrono::seconds limit);  // exit code, or -1 on timeout (child left running)
private:
    pid_t pid_ = -1;
    int status_ = -1;
    bool reaped_ = false;
};

// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral port range (so the
// local port of another test's outgoing connection cannot take it before the peer binds it).
int free_port();

// Waits until something accepts TCP connections on 127.0.0.1:port, or the limit passes.
bool wait_for_port(int port, std::chrono::milliseconds limit = std::chrono::milliseconds(15000));

// Polls `done` every 20 ms until it is true or `limit` has passed; its last answer.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit);

// A fresh empty directory under the system temp folder, removed by the destructor.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }
private:
    std::string path_;
};

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

}  // namespace testsupport
