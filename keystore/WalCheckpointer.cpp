#include "keystore/WalCheckpointer.h"

#include <sqlite3.h>

#include <chrono>

#include "keystore/BrokerServer.h"
#include "keystore/KeystoreDatabase.h"

namespace keystore {

WalCheckpointer::WalCheckpointer(KeystoreDatabase& serving, const std::string& path)
    : serving_(serving), path_(path) {
    serving_.exec("PRAGMA wal_autocheckpoint=0");
    sqlite3_wal_hook(serving_.handle(), &WalCheckpointer::on_commit, this);
    thread_ = std::thread([this] { run(); });
}

WalCheckpointer::~WalCheckpointer() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
    sqlite3_wal_autocheckpoint(serving_.handle(), 10000);  // also removes this object's hook
}

int WalCheckpointer::on_commit(void* self, sqlite3* db, const char* name, int frames) {
    auto* me = static_cast<WalCheckpointer*>(self);
    if (frames < me->requested_at_) me->requested_at_ = 0;  // the WAL restarted
    if (frames >= kHardLimitFrames) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        me->requested_at_ = 0;
        return SQLITE_OK;
    }
    if (frames >= me->requested_at_ + kCheckpointFrames) {  // once per 2,000 new frames
        me->requested_at_ = frames;
        {
            std::lock_guard<std::mutex> lock(me->mutex_);
            me->wanted_ = true;
        }
        me->wake_.notify_one();
    }
    return SQLITE_OK;
}

void WalCheckpointer::run() {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        log_line("warning", "the checkpoint thread cannot open the database; the broker checkpoints itself");
        sqlite3_close(db);
        sqlite3_wal_autocheckpoint(serving_.handle(), 10000);
        return;
    }
    sqlite3_busy_timeout(db, 1000);
    sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
        wake_.wait_for(lock, std::chrono::seconds(5), [this] { return wanted_ || stop_; });
        if (stop_) break;
        wanted_ = false;
        lock.unlock();
        // Every 5 s even when idle, so the WAL of a quiet broker is folded into the database too.
        const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            log_line("warning", std::string("WAL checkpoint failed: ") + sqlite3_errstr(rc));
        lock.lock();
    }
    lock.unlock();
    sqlite3_close(db);
}

}  // namespace keystore
