// A prepared SQLite statement (RAII). Broker side only.
#pragma once

#include <cstdint>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace keystore {

class SqliteStatement {
public:
    SqliteStatement(sqlite3* db, const std::string& sql);
    ~SqliteStatement();
    SqliteStatement(const SqliteStatement&) = delete;
    SqliteStatement& operator=(const SqliteStatement&) = delete;

    SqliteStatement& bind(int index, const std::string& value);  // 1-based
    SqliteStatement& bind(int index, std::int64_t value);
    bool step();   // true while a row is available; throws on error
    void reset();  // reset and clear bindings, ready for reuse
    std::string text(int column) const;  // 0-based
    std::int64_t integer(int column) const;
    bool is_null(int column) const;

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace keystore
