// keystore-bench: the driver behind bench/keystore_bench.sh.
//   keystore-bench populate CONFIG PATIENTS UIDS   bulk-fill the keystore (broker stopped) with
//                                                   derived mappings, as the broker would issue them
//   keystore-bench throughput SOCKET THREADS CONNS SECONDS new|mapped|recent [PATIENTS UIDS]
//                                                   pipelined resolve requests with 10 new UIDs each, or
//                                                   10 existing ones (random over PATIENTS/UIDS)
//   keystore-bench latency SOCKET COUNT PATIENTS UIDS [SEED]  resolve of existing patients/UIDs, one at
//                                                   a time (random with SEED: another seed than the
//                                                   warm-up's, or the broker answers from memory)
// Prints figures; it is not a test.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "config/Config.h"
#include "keystore/Frame.h"
#include "keystore/AuditLog.h"
#include "keystore/BrokerConnection.h"
#include "keystore/KeyedDerivation.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/SecretKey.h"

using namespace keystore;
namespace asio = boost::asio;
using nlohmann::json;
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

// A lean pipelined client: each thread drives CONNS connections, writes one request on each, then
// reads the replies (so THREADS x CONNS requests are in flight and the broker can group them).
// Blocking Boost.Asio sockets; a reply counts as ok when its JSON has "ok":true (the broker
// serialises with nlohmann, keys sorted, compact).
struct Pipe {
    explicit Pipe(asio::io_context& io, const std::string& path) : socket(io) {
        socket.connect(asio::local::stream_protocol::endpoint(path));
    }
    asio::local::stream_protocol::socket socket;
    std::string reply;
};

bool read_reply(Pipe& p) {
    unsigned char header[4];
    asio::read(p.socket, asio::buffer(header, 4));
    p.reply.resize(frame_length(header));
    asio::read(p.socket, asio::buffer(&p.reply[0], p.reply.size()));
    return p.reply.find("\"ok\":true") != std::string::npos;
}

// CPU seconds (user + system) the broker process has used so far, from /proc (its pid comes from
// the health reply). -1 when unavailable.
double broker_cpu_seconds(const std::string& socket) {
    try {
        BrokerConnection c(socket);
        const long pid = c.request({{"op", "health"}}).value("pid", 0L);
        std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));
        std::string f;
        double utime = 0, stime = 0;
        for (int i = 3; i <= 15 && fields >> f; ++i) {
            if (i == 14) utime = std::stod(f);
            if (i == 15) stime = std::stod(f);
        }
        return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    } catch (const std::exception&) {
        return -1;
    }
}

// mode: "new" = 10 new UIDs per request; "mapped" = 10 random UIDs of the populated map (cold:
// mostly database reads); "recent" = 10 UIDs drawn from the first `working_set` of the map (what a
// gateway sends while the studies it works on repeat their UIDs: answered from the broker's memory).
int throughput(const std::string& socket, int threads, int conns, double seconds, const std::string& mode,
               long known_patients, long known_uids) {
    std::atomic<long> done{0}, failed{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    const double cpu_before = broker_cpu_seconds(socket);
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            try {
                asio::io_context io;
                std::vector<std::unique_ptr<Pipe>> pipes;
                for (int c = 0; c < conns; ++c) pipes.push_back(std::make_unique<Pipe>(io, socket));
                // The pid too: several bench processes started in the same second (one per broker of a
                // shared map, bench/scale_out_bench.sh) must not ask for the same "new" UIDs.
                std::mt19937_64 rng(static_cast<unsigned long>(t) * 7919 + static_cast<unsigned long>(std::time(nullptr)) +
                                    (static_cast<unsigned long>(getpid()) << 20));
                const std::string stem = "1.2.826.0.1.3680043.10.544." + std::to_string(rng() % 1000000000) + "." +
                                         std::to_string(t) + ".";
                long i = 0;
                std::vector<std::string> frames(static_cast<std::size_t>(conns));
                while (!stop) {
                    for (int c = 0; c < conns; ++c, ++i) {
                        json uids = json::array();
                        std::string patient = "TP" + std::to_string(getpid()) + "." + std::to_string(t) + "-" + std::to_string(i / 50);
                        if (mode != "new") {
                            patient = patient_id(static_cast<long>(rng() % static_cast<unsigned long>(known_patients)));
                            for (int k = 0; k < 10; ++k)
                                uids.push_back(original_uid(static_cast<long>(rng() % static_cast<unsigned long>(known_uids))));
                        } else {
                            for (int k = 0; k < 10; ++k) uids.push_back(stem + std::to_string(i * 10 + k + 1));
                        }
                        frames[static_cast<std::size_t>(c)] =
                            frame(json{{"op", "resolve"}, {"issuer", kIssuer}, {"patient_id", patient}, {"uids", uids}, {"instance_uid", uids[0]}}.dump());
                        asio::write(pipes[static_cast<std::size_t>(c)]->socket, asio::buffer(frames[static_cast<std::size_t>(c)]));
                    }
                    for (auto& p : pipes) {
                        if (read_reply(*p)) ++done;
                        else ++failed;
                    }
                }
            } catch (const std::exception& e) {
                std::cerr << "keystore-bench: client thread: " << e.what() << "\n";
                ++failed;
            }
        });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& w : workers) w.join();
    const double elapsed = seconds_since(start);
    const char* what = mode == "new" ? "new" : mode == "mapped" ? "already mapped (random over the whole map)"
                                                                : "recently mapped";
    std::printf("throughput: %d client threads x %d connections, batches of 10 %s UIDs: %.0f requests/s (%.0f UIDs/s), "
                "%ld requests, %ld failed\n",
                threads, conns, what, done / elapsed, done * 10 / elapsed, done.load(), failed.load());
    if (mode == "recent")
        std::printf("            (working set: %ld patients, %ld UIDs)\n", known_patients, known_uids);
    const double cpu_after = broker_cpu_seconds(socket);
    if (cpu_before >= 0 && cpu_after >= 0 && done > 0)
        std::printf("            broker CPU %.1f us per request (%.0f requests/s per fully used core; the client "
                    "threads share the same cores)\n",
                    (cpu_after - cpu_before) * 1e6 / static_cast<double>(done.load()),
                    static_cast<double>(done.load()) / std::max(cpu_after - cpu_before, 1e-9));
    return failed ? 1 : 0;
}

int latency(const std::string& socket, long count, long patients, long uids, unsigned long seed) {
    BrokerConnection c(socket);
    std::mt19937_64 rng(seed);
    std::vector<double> micros;
    micros.reserve(static_cast<std::size_t>(count));
    long failed = 0;
    for (long i = 0; i < count; ++i) {
        const long p = static_cast<long>(rng() % static_cast<unsigned long>(std::max(patients, 1L)));
        std::vector<std::string> list;
        if (uids > 0)
            for (int k = 0; k < 10; ++k) list.push_back(original_uid(static_cast<long>(rng() % static_cast<unsigned long>(uids))));
        const auto t0 = Clock::now();
        const auto r = c.request({{"op", "resolve"}, {"issuer", kIssuer}, {"patient_id", patient_id(p)}, {"uids", list}, {"instance_uid", "1.2.826.0.1.9"}});
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
        if (a.size() == 6 && a[0] == "throughput" && a[5] == "new")
            return throughput(a[1], std::stoi(a[2]), std::stoi(a[3]), std::stod(a[4]), a[5], 0, 0);
        if (a.size() == 8 && a[0] == "throughput" && (a[5] == "mapped" || a[5] == "recent"))
            return throughput(a[1], std::stoi(a[2]), std::stoi(a[3]), std::stod(a[4]), a[5], std::stol(a[6]),
                              std::stol(a[7]));
        if ((a.size() == 5 || a.size() == 6) && a[0] == "latency")
            return latency(a[1], std::stol(a[2]), std::stol(a[3]), std::stol(a[4]), a.size() == 6 ? std::stoul(a[5]) : 42);
    } catch (const std::exception& e) {
        std::cerr << "keystore-bench: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "usage: keystore-bench populate CONFIG PATIENTS UIDS | throughput SOCKET THREADS CONNS SECONDS new | "
                 "throughput SOCKET THREADS CONNS SECONDS mapped|recent PATIENTS UIDS | "
                 "latency SOCKET COUNT PATIENTS UIDS [SEED]\n";
    return 2;
}
