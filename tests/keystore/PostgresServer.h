// Test support: a real, throw-away PostgreSQL on 127.0.0.1 and an ephemeral port, started with
// scripts/postgres-scratch.sh (initdb into a temp folder; as root the server runs as "postgres")
// and stopped by its process id when destroyed. Used by the shared-keystore tests.
#pragma once

#include <string>

#include "tests/support/Process.h"

namespace testsupport {

class PostgresServer {
public:
    PostgresServer();  // starts and waits (bounded) until it accepts connections; check available()
    ~PostgresServer();  // fast shutdown (SIGINT to the server's pid), bounded; then SIGKILL
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;
    bool available() const { return available_; }
    const std::string& why_not() const { return why_not_; }  // when not available
    int port() const { return port_; }
    std::string uri() const;  // postgresql://deid@127.0.0.1:PORT/keystore
    // Runs one SQL command with psql; unaligned, tuples only ("a|b" per row).
    RunResult psql(const std::string& sql) const;

private:
    TempDir dir_;
    int port_ = 0;
    Child server_;
    bool available_ = false;
    std::string why_not_;
};

}  // namespace testsupport
