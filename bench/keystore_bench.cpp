// keystore-bench: the driver behind bench/keystore_bench.sh.
//   keystore-bench populate CONFIG PATIENTS UIDS   bulk-fill the keystore (broker stopped) with
//                                                   derived mappings, as the broker would issue them
//   keystore-bench throughput SOCKET THREADS SECONDS [PATIENTS UIDS]   resolve requests with 10 new
//                                                   UIDs each, or 10 existing ones of the populated map
//   keystore-bench latency SOCKET COUNT PATIENTS UIDS  resolve of existing patients/UIDs, one at a time
// Prints figures; it is not a test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/Config.h"
#include "keystore/AuditLog.h"
#include "keystore/BrokerConnection.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/SecretKey.h"

using namespace keystore;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kIssuer = "BENCH";
std::string patient_id(long i) { return "BP" + std::to_string(100000000 + i); }
std::string original_uid(long i) { return "1.2.826.0.1.3680043.10.543." + std::to_string(1000000000L + i); }

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int populate(const std::string& config_path, long patients, long uids) {
    const config::Config config = config::load(config_path);
    const std::string dir = config.keystore_dir();
    prepare_keystore_dir(dir);
    const KeyedDerivation d(SecretKey::load(dir, true), config.keystore.date_offset_min_days,
                            config.keystore.date_offset_max_days);
    KeystoreDatabase db(dir + "/" + KeystoreDatabase::kFileName, KeystoreDatabase::Open::create);
    db.begin_immediate();
    if (!db.meta("key_check")) db.set_meta("key_check", d.key_check());
    db.commit();
    db.exec("PRAGMA journal_mode=DELETE");
    db.exec("PRAGMA synchronous=OFF");
    db.exec("PRAGMA cache_size=-2000000");
    db.exec("DROP INDEX IF EXISTS uids_new");
    db.exec("DROP INDEX IF EXISTS patients_pseudonym");
    const auto start = Clock::now();
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    db.begin_immediate();
    for (long i = 0; i < patients; ++i) {
        const std::string id = patient_id(i);
        db.insert_patient({kIssuer, id, d.pseudonym(kIssuer, id), d.date_offset_days(kIssuer, id), now, false});
    }
    std::cerr << "populate: " << patients << " patients in " << seconds_since(start) << " s\n";
    for (long i = 0; i < uids; ++i) {
        const std::string u = original_uid(i);
        db.insert_uid({u, d.uid(u), now, false});
        if (i % 5000000 == 4999999) std::cerr << "populate: " << i + 1 << " UIDs, " << seconds_since(start) << " s\n";
    }
    db.add_counts(patients, uids);
    AuditLog(db).append("bench-populate", "benchmark data", {{"patients", patients}, {"uids", uids}});
    db.commit();
    std::cerr << "populate: rows written in " << seconds_since(start) << " s; building indexes\n";
    db.exec("CREATE UNIQUE INDEX IF NOT EXISTS uids_new ON uids(new)");
    db.exec("CREATE INDEX IF NOT EXISTS patients_pseudonym ON patients(pseudonym)");
    db.exec("PRAGMA journal_mode=WAL");
    std::cout << "populate_seconds " << seconds_since(start) << "\n";
    return 0;
}

// known_patients > 0: requests for existing patients and UIDs (read path); else 10 new UIDs each.
int throughput(const std::string& socket, int threads, double seconds, long known_patients, long known_uids) {
    std::atomic<long> done{0}, failed{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            BrokerConnection c(socket);
            std::mt19937_64 rng(static_cast<unsigned long>(t) * 7919 + static_cast<unsigned long>(std::time(nullptr)));
            const std::string stem = "1.2.826.0.1.3680043.10.544." + std::to_string(rng() % 1000000000) + "." +
                                     std::to_string(t) + ".";
            for (long i = 0; !stop; ++i) {
                std::vector<std::string> uids;
                std::string patient = "TP" + std::to_string(t) + "-" + std::to_string(i / 50);
                if (known_patients > 0) {
                    patient = patient_id(static_cast<long>(rng() % static_cast<unsigned long>(known_patients)));
                    for (int k = 0; k < 10; ++k)
                        uids.push_back(original_uid(static_cast<long>(rng() % static_cast<unsigned long>(known_uids))));
                } else {
                    for (int k = 0; k < 10; ++k) uids.push_back(stem + std::to_string(i * 10 + k + 1));
                }
                try {
                    const auto r = c.request({{"op", "resolve"}, {"issuer", kIssuer}, {"patient_id", patient},
                                              {"uids", uids}});
                    if (r.value("ok", false)) ++done;
                    else ++failed;
                } catch (const std::exception&) {
                    ++failed;
                }
            }
        });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = seconds_since(start);
    std::printf("throughput: %d client threads, batches of 10 %s UIDs: %.0f requests/s (%.0f UIDs/s), %ld requests, %ld failed\n",
                threads, known_patients > 0 ? "already mapped" : "new", done / elapsed, done * 10 / elapsed,
                done.load(), failed.load());
    return failed ? 1 : 0;
}

int latency(const std::string& socket, long count, long patients, long uids) {
    BrokerConnection c(socket);
    std::mt19937_64 rng(42);
    std::vector<double> micros;
    micros.reserve(static_cast<std::size_t>(count));
    long failed = 0;
    for (long i = 0; i < count; ++i) {
        const long p = static_cast<long>(rng() % static_cast<unsigned long>(std::max(patients, 1L)));
        std::vector<std::string> list;
        if (uids > 0)
            for (int k = 0; k < 10; ++k) list.push_back(original_uid(static_cast<long>(rng() % static_cast<unsigned long>(uids))));
        const auto t0 = Clock::now();
        const auto r = c.request({{"op", "resolve"}, {"issuer", kIssuer}, {"patient_id", patient_id(p)}, {"uids", list}});
        micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (!r.value("ok", false)) ++failed;
    }
    std::sort(micros.begin(), micros.end());
    auto pct = [&](double q) { return micros[static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1))]; };
    std::printf("latency: %ld lookups of an existing patient + 10 existing UIDs (random over %ld patients, %ld UIDs): "
                "p50 %.0f us, p99 %.0f us, max %.0f us, %ld failed\n",
                count, patients, uids, pct(0.50), pct(0.99), micros.back(), failed);
    return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> a(argv + 1, argv + argc);
    try {
        if (a.size() == 4 && a[0] == "populate") return populate(a[1], std::stol(a[2]), std::stol(a[3]));
        if (a.size() == 4 && a[0] == "throughput") return throughput(a[1], std::stoi(a[2]), std::stod(a[3]), 0, 0);
        if (a.size() == 6 && a[0] == "throughput")
            return throughput(a[1], std::stoi(a[2]), std::stod(a[3]), std::stol(a[4]), std::stol(a[5]));
        if (a.size() == 5 && a[0] == "latency") return latency(a[1], std::stol(a[2]), std::stol(a[3]), std::stol(a[4]));
    } catch (const std::exception& e) {
        std::cerr << "keystore-bench: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: keystore-bench populate CONFIG PATIENTS UIDS | throughput SOCKET THREADS SECONDS [PATIENTS UIDS] | "
                 "latency SOCKET COUNT PATIENTS UIDS\n";
    return 2;
}
