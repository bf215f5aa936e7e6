// Several brokers on one PostgreSQL keystore map (keystore.database): a real PostgreSQL started on
// loopback by the test, real `deid-keystore serve` processes sharing a copied secret.
#include "keystore/PostgresMapStore.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/BrokerConnection.h"
#include "tests/keystore/PostgresServer.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using nlohmann::json;
using testsupport::PostgresServer;
using testsupport::TempDir;

namespace {

const std::string kKeystore = std::string(DEID_BIN_DIR) + "/deid-keystore";

// One broker host: its own state folder (socket, secret copy) and config naming the shared map.
struct BrokerHost {
    TempDir dir;
    std::string config_path = dir / "config.json";
    std::string state = dir / "var";
    std::string socket = state + "/run/keystore.sock";
    std::string keystore_dir = state + "/keystore";
    std::string log = dir / "broker.log";
    testsupport::Child broker;

    explicit BrokerHost(const std::string& database) {
        testsupport::write_file(config_path, json{{"state_dir", state},
                                                  {"keystore", {{"database", database}, {"default_issuer", "HOSP"}}}}
                                                 .dump());
    }

    // The secret is shared by copying it into the keystore folder.
    void copy_secret_from(const BrokerHost& other) {
        std::filesystem::create_directories(keystore_dir);
        chmod(state.c_str(), 0700);
        chmod(keystore_dir.c_str(), 0700);
        std::filesystem::copy_file(other.keystore_dir + "/secret.key", keystore_dir + "/secret.key");
    }

    void start() {
        broker = testsupport::Child({kKeystore, "serve", "--config", config_path}, log);
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        while (std::chrono::steady_clock::now() < deadline) {
            if (!broker.running()) FAIL("the broker exited: " << testsupport::read_file(log));
            try {
                keystore::BrokerConnection c(socket, 2s);
                if (c.request({{"op", "health"}}).value("ok", false)) return;
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(50ms);
        }
        FAIL("the broker did not answer within 30 s");
    }

    json resolve(const std::string& id, const std::vector<std::string>& uids) const {
        keystore::BrokerConnection c(socket, 10s);
        return c.request({{"op", "resolve"}, {"issuer", "HOSP"}, {"patient_id", id}, {"uids", uids}, {"instance_uid", "1.2.826.0.1.9"}});
    }

    testsupport::RunResult cli(std::vector<std::string> args) const {
        std::vector<std::string> argv = {kKeystore};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--config");
        argv.push_back(config_path);
        return testsupport::run(argv, 60s);
    }
};

std::vector<std::string> study_uids(const std::string& stem, int n) {
    std::vector<std::string> out;
    for (int i = 1; i <= n; ++i) out.push_back(stem + "." + std::to_string(i));
    return out;
}

std::int64_t count_rows(const PostgresServer& pg, const std::string& sql) {
    const auto r = pg.psql(sql);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return std::stoll(r.output);
}

}  // namespace

// Catch2 v2 has no SKIP: the reason is printed as a warning and the test body is not run.
#define REQUIRE_POSTGRES(pg)                                                   \
    if (!(pg).available()) {                                                   \
        WARN("skipped: no PostgreSQL server could be started: " << (pg).why_not()); \
        return;                                                                \
    }

TEST_CASE("two brokers sharing a secret and one PostgreSQL answer the same and keep one map", "[postgres]") {
    PostgresServer pg;
    REQUIRE_POSTGRES(pg);
    BrokerHost a(pg.uri()), b(pg.uri());
    a.start();  // creates the secret and the tables
    b.copy_secret_from(a);
    b.start();

    const auto study = study_uids("1.2.826.0.1.3680043.99.1", 6);
    const json from_a = a.resolve("PAT-1", study);
    REQUIRE(from_a["ok"] == true);
    CHECK(b.resolve("PAT-1", study) == from_a);
    // Each broker records what it saw first; the other finds it in the shared map.
    const json only_b = b.resolve("PAT-2", {"1.2.826.0.1.3680043.99.2.1"});
    REQUIRE(only_b["ok"] == true);
    CHECK(a.resolve("PAT-2", {"1.2.826.0.1.3680043.99.2.1"}) == only_b);

    // A value PostgreSQL cannot store is refused on its own; the broker keeps serving.
    const json nul = a.resolve(std::string("NUL\0ID", 6), {"1.2.3.4"});
    CHECK(nul["ok"] == false);
    CHECK(nul["error"].get<std::string>().find("NUL") != std::string::npos);
    CHECK(a.resolve("PAT-2", {"1.2.826.0.1.3680043.99.2.1"}) == only_b);

    CHECK(count_rows(pg, "SELECT count(*) FROM patients") == 2);
    CHECK(count_rows(pg, "SELECT count(*) FROM uids") == 7);
    CHECK(count_rows(pg, "SELECT count(*) FROM uids WHERE original LIKE '1.2.826.0.1.3680043.99.1.%'") == 6);

    // Re-identification from either host finds what the other one recorded.
    for (const BrokerHost* host : {&a, &b}) {
        const auto r = host->cli({"reidentify", "--pseudonym", only_b["pseudonym"], "--reason", "test", "--json"});
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        CHECK(json::parse(r.output)["patients"][0]["patient_id"] == "PAT-2");
        const auto u = host->cli({"reidentify", "--uid", from_a["uids"][2], "--reason", "test", "--json"});
        REQUIRE(u.exit_code == 0);
        CHECK(json::parse(u.output)["uid"]["original_uid"] == study[2]);
    }
    // The export from one host holds the whole map; stats count both brokers' mappings.
    const std::string csv = a.dir / "map.csv";
    REQUIRE(a.cli({"export", "--csv", csv}).exit_code == 0);
    const std::string text = testsupport::read_file(csv);
    CHECK(text.find("HOSP,PAT-1,") != std::string::npos);
    CHECK(text.find("HOSP,PAT-2,") != std::string::npos);
    const auto stats = json::parse(b.cli({"stats", "--json"}).output);
    CHECK(stats["patients"] == 2);
    CHECK(stats["uids"] == 7);

    // One audit chain per broker host, verified together.
    const auto verified = a.cli({"audit", "verify", "--json"});
    INFO(verified.output);
    REQUIRE(verified.exit_code == 0);
    const json v = json::parse(verified.output);
    CHECK(v["ok"] == true);
    CHECK(v["chains"].size() == 2);
    // Tampering with a record of one chain is named, with its chain.
    REQUIRE(pg.psql("UPDATE audit SET detail = '{}' WHERE seq = 1 AND operation = 'issue'").exit_code == 0);
    const auto broken = b.cli({"audit", "verify"});
    CHECK(broken.exit_code == 1);
    CHECK(broken.output.find("BROKEN at record 1") != std::string::npos);
}

TEST_CASE("an import made on one broker host is answered by a broker already running on another", "[postgres]") {
    PostgresServer pg;
    REQUIRE_POSTGRES(pg);
    BrokerHost a(pg.uri()), b(pg.uri());
    a.start();
    b.copy_secret_from(a);
    b.start();
    // b has issued (and remembers) one patient before the import.
    const json seen = b.resolve("SEEN", {"1.2.3.100"});
    REQUIRE(seen["ok"] == true);

    const std::string csv = a.dir / "import.csv";
    testsupport::write_file(csv, "patient_id,pseudonym,date_offset_days\nTRIAL-PAT,TRIAL-001,-17\n"
                                 "original_uid,new_uid\n1.2.3.200,2.25.123456789\n");
    const auto imported = a.cli({"import", "--csv", csv});
    INFO(imported.output);
    REQUIRE(imported.exit_code == 0);

    const json r = b.resolve("TRIAL-PAT", {"1.2.3.200", "1.2.3.100"});
    REQUIRE(r["ok"] == true);
    CHECK(r["pseudonym"] == "TRIAL-001");
    CHECK(r["date_offset_days"] == -17);
    CHECK(r["uids"] == json::array({"2.25.123456789", seen["uids"][0]}));

    // An import cannot change what the other broker issued.
    testsupport::write_file(csv, "patient_id,pseudonym\nSEEN,TRIAL-999\n");
    const auto refused = a.cli({"import", "--csv", csv});
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("line 2") != std::string::npos);
    CHECK(b.resolve("SEEN", {"1.2.3.100"}) == seen);
}

TEST_CASE("brokers writing overlapping batches into one PostgreSQL at once record each mapping once",
          "[postgres]") {
    PostgresServer pg;
    REQUIRE_POSTGRES(pg);
    BrokerHost a(pg.uri()), b(pg.uri());
    a.start();
    b.copy_secret_from(a);
    b.start();
    // Four clients, two per broker, ask for the same 40 studies in different orders.
    constexpr int kStudies = 40;
    std::vector<std::vector<json>> answers(4, std::vector<json>(kStudies));
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c) {
        clients.emplace_back([&, c] {
            const BrokerHost& host = c % 2 ? b : a;
            for (int i = 0; i < kStudies; ++i) {
                const int s = c < 2 ? i : kStudies - 1 - i;
                try {
                    answers[c][s] = host.resolve("P-" + std::to_string(s % 10),
                                                 study_uids("1.2.40.0." + std::to_string(s), 4));
                } catch (const std::exception& e) {
                    answers[c][s] = {{"ok", false}, {"error", e.what()}};
                }
            }
        });
    }
    for (auto& t : clients) t.join();
    for (int s = 0; s < kStudies; ++s) {
        INFO("study " << s << ": " << answers[0][s].dump());
        REQUIRE(answers[0][s]["ok"] == true);
        for (int c = 1; c < 4; ++c) CHECK(answers[c][s] == answers[0][s]);
    }
    CHECK(count_rows(pg, "SELECT count(*) FROM patients") == 10);
    CHECK(count_rows(pg, "SELECT count(*) FROM uids") == kStudies * 4);
    const auto stats = json::parse(a.cli({"stats", "--json"}).output);
    CHECK(stats["patients"] == 10);
    CHECK(stats["uids"] == kStudies * 4);
    CHECK(a.cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("a broker with another secret, or an unreachable database, refuses to start", "[postgres]") {
    PostgresServer pg;
    REQUIRE_POSTGRES(pg);
    BrokerHost a(pg.uri()), stranger(pg.uri());
    a.start();
    // Its own new secret: the shared map's key check refuses it.
    const auto refused = testsupport::run({kKeystore, "serve", "--config", stranger.config_path}, 60s);
    CHECK(refused.exit_code == 2);
    CHECK(refused.output.find("does not belong") != std::string::npos);

    // Nothing listens on this port: a clear error naming the server, exit 2, no password shown.
    BrokerHost nowhere("postgresql://deid:s3cret-pw@127.0.0.1:" + std::to_string(testsupport::free_port()) + "/keystore");
    const auto down = testsupport::run({kKeystore, "serve", "--config", nowhere.config_path}, 60s);
    CHECK(down.exit_code == 2);
    CHECK(down.output.find("cannot connect to the keystore database") != std::string::npos);
    CHECK(down.output.find("s3cret-pw") == std::string::npos);
    // And a value that is no PostgreSQL URI is a config error, without the value.
    BrokerHost wrong("host=127.0.0.1 password=s3cret-pw");
    const auto bad = testsupport::run({kKeystore, "stats", "--config", wrong.config_path}, 30s);
    CHECK(bad.exit_code == 2);
    CHECK(bad.output.find("keystore.database") != std::string::npos);
    CHECK(bad.output.find("s3cret-pw") == std::string::npos);
}
