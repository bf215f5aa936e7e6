#include "tests/keystore/PostgresServer.h"

#include <signal.h>

#include <chrono>
#include <thread>

namespace testsupport {

using namespace std::chrono_literals;

PostgresServer::PostgresServer() : port_(free_port()) {
    const std::string script = std::string(DEID_SOURCE_DIR) + "/scripts/postgres-scratch.sh";
    // env execs the script, which execs the server: the child's pid is the server's. The template
    // (an initdb made once per build folder) saves an initdb per test.
    server_ = Child({"/usr/bin/env", "PG_SCRATCH_TEMPLATE=" + std::string(DEID_BIN_DIR) + "/../postgres-template", script,
                     dir_ / "pg", std::to_string(port_)},
                    dir_ / "postgres.log");
    // initdb takes seconds, more on a loaded machine: wait until the server answers, or it exits.
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!server_.running()) {
            const int code = server_.wait(1s);
            why_not_ = (code == 77 ? "PostgreSQL cannot run here: " : "PostgreSQL did not start: ") +
                       read_file(dir_ / "postgres.log");
            return;
        }
        if (run({"pg_isready", "-q", "-h", "127.0.0.1", "-p", std::to_string(port_)}, 10s).exit_code == 0) break;
        std::this_thread::sleep_for(200ms);
    }
    const RunResult created =
        run({"createdb", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U", "deid", "keystore"}, 30s);
    if (created.exit_code != 0) {
        why_not_ = "createdb failed: " + created.output;
        return;
    }
    available_ = true;
}

PostgresServer::~PostgresServer() {
    if (!server_.running()) return;
    server_.signal(SIGINT);  // "fast" shutdown: ends the sessions instead of waiting for them
    if (server_.wait(30s) == -1) server_.signal(SIGKILL);
}

std::string PostgresServer::uri() const { return "postgresql://deid@127.0.0.1:" + std::to_string(port_) + "/keystore"; }

RunResult PostgresServer::psql(const std::string& sql) const {
    return run({"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri(), "-c", sql}, 30s);
}

}  // namespace testsupport
