// Moves SQLite WAL checkpoints off the broker's serving thread. The broker's connection has
// automatic checkpoints turned off; after each commit its WAL hook tells this object how many
// frames the WAL holds, and a thread with its own connection runs PASSIVE checkpoints (which never
// block the writer) when there are enough. Checkpoints copy committed pages into the database
// file; they change nothing about what a killed process keeps (the WAL already has every commit).
// A PASSIVE checkpoint that runs while the broker keeps committing never catches up completely,
// so the WAL could not restart from its beginning and would only grow: past a limit the broker's
// own connection checkpoints the few frames the thread has not copied yet (between transactions,
// so it completes) and the next transaction restarts the WAL.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace keystore {

class KeystoreDatabase;

class WalCheckpointer {
public:
    static constexpr int kCheckpointFrames = 2000;   // ask the thread for a checkpoint every 2,000 frames
    static constexpr int kHardLimitFrames = 20000;   // checkpoint on the serving thread above this
    WalCheckpointer(KeystoreDatabase& serving, const std::string& path);
    ~WalCheckpointer();  // stops and joins the thread, then restores automatic checkpoints
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

private:
    static int on_commit(void* self, sqlite3* db, const char* name, int frames);
    void run();

    KeystoreDatabase& serving_;
    std::string path_;
    std::mutex mutex_;
    std::condition_variable wake_;
    int requested_at_ = 0;  // WAL frames at the last request (serving thread only)
    bool wanted_ = false;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace keystore
