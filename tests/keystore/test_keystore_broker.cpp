// The broker as a process: socket API, permissions, faults, admin CLI, client and BrokerProcess.
#include "keystore/BrokerClient.h"

#include <grp.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/BrokerConnection.h"
#include "keystore/BrokerProcess.h"
#include "keystore/Frame.h"
#include "tests/support/Process.h"

using namespace std::chrono_literals;
using nlohmann::json;
using testsupport::TempDir;

namespace {

const std::string kKeystore = std::string(DEID_BIN_DIR) + "/deid-keystore";

// A state folder with a config file; brokers started on it are stopped by the destructor.
struct BrokerSite {
    TempDir dir;
    std::string config_path = dir / "config.json";
    std::string state = dir / "var";
    std::string socket = state + "/run/keystore.sock";
    std::string keystore_dir = state + "/keystore";
    std::string log = dir / "broker.log";
    testsupport::Child broker;

    explicit BrokerSite(const std::string& extra = "") {
        testsupport::write_file(config_path, "{\"state_dir\": \"" + state + "\"" + extra + "}");
    }

    void start(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> argv = {kKeystore, "serve", "--config", config_path};
        argv.insert(argv.end(), extra.begin(), extra.end());
        broker = testsupport::Child(argv, log);
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        while (std::chrono::steady_clock::now() < deadline) {
            REQUIRE(broker.running());
            if (healthy()) return;
            std::this_thread::sleep_for(20ms);
        }
        FAIL("the broker did not answer within 15 s");
    }

    bool healthy() {
        try {
            keystore::BrokerConnection c(socket, 2s);
            return c.request({{"op", "health"}}).value("ok", false);
        } catch (const std::exception&) {
            return false;
        }
    }

    void stop() { REQUIRE(broker.stop() == 0); }

    testsupport::RunResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv = {kKeystore};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back("--config");
        argv.push_back(config_path);
        return testsupport::run(argv, 30s);
    }
};

json ask(const std::string& socket, const json& request) {
    keystore::BrokerConnection c(socket, 5s);
    return c.request(request);
}

json resolve(const std::string& socket, const std::string& issuer, const std::string& id,
             const std::vector<std::string>& uids, const std::vector<std::string>& hashes = {}) {
    return ask(socket, {{"op", "resolve"}, {"issuer", issuer}, {"patient_id", id}, {"uids", uids}, {"hashes", hashes},
                        {"instance_uid", "1.2.826.0.1.9"}});
}

int mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

// Runs SQL on a keystore database directly (as an attacker with file access would).
void tamper(const std::string& db_path, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &h) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(h);
    REQUIRE(rc == SQLITE_OK);
}

std::vector<std::string> uids_for(int n, const std::string& stem) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(stem + "." + std::to_string(i + 1));
    return out;
}

}  // namespace

TEST_CASE("answers are deterministic across restarts and between brokers sharing a secret", "[broker]") {
    BrokerSite a;
    a.start();
    const auto uids = uids_for(5, "1.2.840.99999.1");
    const json first = resolve(a.socket, "HOSP", "PID-1", uids, {"ACC-1"});
    REQUIRE(first["ok"] == true);
    CHECK(first["date_offset_days"].get<int>() < 0);
    CHECK(first["date_offset_days"].get<int>() >= -365);
    a.stop();
    a.start();
    const json again = resolve(a.socket, "HOSP", "PID-1", uids, {"ACC-1"});
    CHECK(again == first);

    // A second broker with a copy of the secret and an empty database answers the same.
    BrokerSite b;
    std::filesystem::create_directories(b.keystore_dir);
    chmod(b.keystore_dir.c_str(), 0700);
    std::filesystem::copy_file(a.keystore_dir + "/secret.key", b.keystore_dir + "/secret.key");
    b.start();
    CHECK(resolve(b.socket, "HOSP", "PID-1", uids, {"ACC-1"}) == first);
    // ... and also for values neither has seen yet.
    CHECK(resolve(b.socket, "HOSP", "PID-2", {"1.2.3.9"}) == resolve(a.socket, "HOSP", "PID-2", {"1.2.3.9"}));

    // A broker with its own secret answers differently.
    BrokerSite c;
    c.start();
    const json other = resolve(c.socket, "HOSP", "PID-1", uids, {"ACC-1"});
    CHECK(other["pseudonym"] != first["pseudonym"]);
    CHECK(other["uids"] != first["uids"]);
}

TEST_CASE("no request can get an original value back", "[broker]") {
    BrokerSite site;
    site.start();
    const std::string issuer = "ISSUER-ORIG-7731", id = "PATIENT-ORIG-7731", uid = "1.2.840.77317731.1",
                      hashed = "ACCESSION-ORIG-7731";
    const std::vector<std::string> originals = {issuer, id, uid, hashed};
    std::vector<json> replies;
    replies.push_back(resolve(site.socket, issuer, id, {uid}, {hashed}));
    replies.push_back(resolve(site.socket, issuer, id, {uid}, {hashed}));
    for (const char* op : {"health", "stats", "lookup", "reidentify", "export", "reverse", "resolve_reverse"}) {
        replies.push_back(ask(site.socket, {{"op", op}, {"issuer", issuer}, {"patient_id", id}, {"pseudonym",
            replies[0]["pseudonym"]}, {"uid", replies[0]["uids"][0]}, {"uids", {uid}}}));
    }
    replies.push_back(ask(site.socket, {{"op", "resolve"}, {"uids", replies[0]["uids"]}, {"instance_uid", "1.2.9"}}));  // a new UID as input
    REQUIRE(replies[0]["ok"] == true);
    for (const json& r : replies) {
        const std::string text = r.dump();
        for (const auto& o : originals) CHECK(text.find(o) == std::string::npos);
    }
    // Nor does the broker's log carry them.
    const std::string log = testsupport::read_file(site.log);
    for (const auto& o : originals) CHECK(log.find(o) == std::string::npos);
}

TEST_CASE("the socket, keystore folder, key, database and export are owner-only", "[broker]") {
    BrokerSite site;
    site.start();
    REQUIRE(resolve(site.socket, "H", "P", {"1.2.3"})["ok"] == true);
    CHECK(mode_of(site.socket) == 0600);
    CHECK(mode_of(site.state + "/run") == 0700);
    CHECK(mode_of(site.keystore_dir) == 0700);
    CHECK(mode_of(site.keystore_dir + "/secret.key") == 0600);
    CHECK(mode_of(site.keystore_dir + "/keystore.db") == 0600);
    CHECK(mode_of(site.keystore_dir + "/keystore.db-wal") == 0600);
    const std::string out = site.dir / "map.csv";
    REQUIRE(site.cli({"export", "--csv", out}).exit_code == 0);
    CHECK(mode_of(out) == 0600);
    // A clean stop removes the socket.
    site.stop();
    CHECK_FALSE(std::filesystem::exists(site.socket));
}

TEST_CASE("serve with a socket group makes the socket 0660 for that group and its folder traversable", "[broker]") {
    const struct group* g = getgrgid(getegid());
    REQUIRE(g != nullptr);
    BrokerSite site;
    site.start({"--socket-group", g->gr_name});
    CHECK(mode_of(site.socket) == 0660);
    CHECK(mode_of(site.state + "/run") == 0710);
    CHECK(mode_of(site.keystore_dir) == 0700);  // the keystore itself stays owner-only
    struct stat st {};
    REQUIRE(stat(site.socket.c_str(), &st) == 0);
    CHECK(st.st_gid == g->gr_gid);
    site.stop();
    // An unknown group is refused at start.
    const auto refused = testsupport::run({kKeystore, "serve", "--config", site.config_path, "--socket-group",
                                           "no-such-group-deid"}, 20s);
    CHECK(refused.exit_code == 2);
    CHECK(refused.output.find("unknown group") != std::string::npos);
}

TEST_CASE("malformed, oversized and unknown requests get errors and the broker keeps serving", "[broker]") {
    BrokerSite site;
    site.start();
    keystore::BrokerConnection c(site.socket, 5s);
    auto raw = [&](const std::string& body) { return json::parse(c.request_raw(keystore::frame(body))); };
    CHECK(raw("{not json")["ok"] == false);
    CHECK(raw("")["ok"] == false);
    CHECK(raw("[1,2]")["ok"] == false);
    CHECK(raw("{\"uids\":[]}")["ok"] == false);
    CHECK(raw("{\"op\":\"frobnicate\"}")["error"].get<std::string>().find("unknown request") != std::string::npos);
    CHECK(raw("{\"op\":\"resolve\",\"patient_id\":1}")["ok"] == false);
    CHECK(raw("{\"op\":\"resolve\",\"uids\":\"1.2.3\"}")["ok"] == false);
    CHECK(raw("{\"op\":\"resolve\",\"uids\":[\"\"]}")["ok"] == false);
    CHECK(raw("{\"op\":\"resolve\",\"original\":true}")["ok"] == false);
    // The same connection still works after errors.
    CHECK(c.request({{"op", "resolve"}, {"patient_id", "P"}, {"uids", {"1.2.3"}}, {"instance_uid", "1.2.3"}})["ok"] == true);

    // Oversized: the header announces more than the limit; an error reply, then the connection closes.
    keystore::BrokerConnection big(site.socket, 5s);
    const json refused = json::parse(big.request_raw(keystore::frame_header(keystore::kMaxFrameBytes + 1) + "xx"));
    CHECK(refused["ok"] == false);
    CHECK(refused["error"].get<std::string>().find("exceeds the limit") != std::string::npos);
    // A well-formed 200 KB request is fine (keystore.limits.max_frame_bytes is 256 KiB).
    std::vector<std::string> many = uids_for(6000, "1.2.840.55555.12345");
    const json large = resolve(site.socket, "H", "P", many);
    REQUIRE(large["ok"] == true);
    CHECK(large["uids"].size() == many.size());

    const json health = ask(site.socket, {{"op", "health"}});
    CHECK(health["ok"] == true);
    CHECK(health["rejected"].get<int>() >= 10);
    CHECK(site.broker.running());
    const std::string log = testsupport::read_file(site.log);
    CHECK(log.find("request rejected: malformed request: not JSON") != std::string::npos);
    CHECK(log.find("exceeds the limit") != std::string::npos);
}

TEST_CASE("pipelined requests on one connection are answered in order", "[broker]") {
    BrokerSite site;
    site.start();
    boost::asio::io_context io;
    boost::asio::local::stream_protocol::socket s(io);
    s.connect(boost::asio::local::stream_protocol::endpoint(site.socket));
    const json a = {{"op", "resolve"}, {"issuer", "H"}, {"patient_id", "PIPE"}, {"uids", uids_for(10, "1.2.77")}, {"instance_uid", "1.2.77.1"}};
    const json b = {{"op", "resolve"}, {"issuer", "H"}, {"patient_id", "PIPE2"}, {"uids", uids_for(3, "1.2.78")}, {"instance_uid", "1.2.78.1"}};
    // Sent in one write: the broker sees several frames in one read; the health and error replies
    // must not overtake the resolve replies that wait for a group commit.
    std::string bytes;
    for (int round = 0; round < 20; ++round)
        bytes += keystore::frame(a.dump()) + keystore::frame("{not json") + keystore::frame(b.dump()) +
                 keystore::frame(json{{"op", "health"}}.dump());
    boost::asio::write(s, boost::asio::buffer(bytes));
    auto read_reply = [&] {
        unsigned char header[4];
        boost::asio::read(s, boost::asio::buffer(header, 4));
        std::string body(keystore::frame_length(header), '\0');
        boost::asio::read(s, boost::asio::buffer(&body[0], body.size()));
        return json::parse(body);
    };
    json first_a, first_b;
    for (int round = 0; round < 20; ++round) {
        const json ra = read_reply(), bad = read_reply(), rb = read_reply(), health = read_reply();
        REQUIRE(ra["ok"] == true);
        CHECK(ra["uids"].size() == 10);
        CHECK(bad["ok"] == false);
        REQUIRE(rb["ok"] == true);
        CHECK(rb["uids"].size() == 3);
        CHECK(health["status"] == "serving");
        if (round == 0) {
            first_a = ra;
            first_b = rb;
        }
        CHECK(ra == first_a);
        CHECK(rb == first_b);
    }
    CHECK(first_a["pseudonym"] != first_b["pseudonym"]);
    // What was answered from memory is what a fresh broker reads from the database.
    site.stop();
    site.start();
    CHECK(resolve(site.socket, "H", "PIPE", uids_for(10, "1.2.77"), {}) == first_a);
}

TEST_CASE("a second broker on the same keystore refuses to start", "[broker]") {
    BrokerSite site;
    site.start();
    const auto second = testsupport::run({kKeystore, "serve", "--config", site.config_path}, 20s);
    CHECK(second.exit_code == 3);
    CHECK(second.output.find("already serving") != std::string::npos);
    CHECK(site.healthy());
    // BrokerProcess reports the child's exit reason.
    const config::Config config = config::load(site.config_path);
    CHECK_THROWS_WITH(keystore::BrokerProcess(config), Catch::Contains("exited with status 3"));
    CHECK(site.healthy());
}

TEST_CASE("a broker killed during a stream of requests loses no answered mapping", "[broker][faults]") {
    BrokerSite site;
    site.start();
    std::map<std::string, json> answered;  // patient id -> reply
    std::map<std::string, std::vector<std::string>> asked_uids;
    std::atomic<int> count{0};
    std::atomic<bool> stop{false};
    std::thread client([&] {
        keystore::BrokerConnection c(site.socket, 5s);
        for (int i = 0; !stop; ++i) {
            const std::string id = "KILL-" + std::to_string(i);
            const auto uids = uids_for(10, "1.2.840.4242." + std::to_string(i));
            try {
                const json r = c.request({{"op", "resolve"}, {"issuer", "H"}, {"patient_id", id}, {"uids", uids}, {"instance_uid", uids[0]}});
                if (r["ok"] != true) break;
                answered[id] = r;
                asked_uids[id] = uids;
                ++count;
            } catch (const std::exception&) {
                break;  // the broker is gone
            }
        }
    });
    while (count < 150 && site.broker.running()) std::this_thread::sleep_for(1ms);
    site.broker.signal(SIGKILL);
    site.broker.wait(10s);
    stop = true;
    client.join();
    REQUIRE(answered.size() >= 150);

    // Everything answered is in the database: the export (no broker running) lists it.
    const std::string out = site.dir / "after-kill.csv";
    REQUIRE(site.cli({"export", "--csv", out}).exit_code == 0);
    const std::string exported = testsupport::read_file(out);
    std::size_t missing = 0;
    for (const auto& [id, reply] : answered) {
        if (exported.find("H," + id + "," + reply["pseudonym"].get<std::string>() + "," +
                          std::to_string(reply["date_offset_days"].get<int>()) + "\n") == std::string::npos)
            ++missing;
        for (std::size_t k = 0; k < asked_uids[id].size(); ++k)
            if (exported.find(asked_uids[id][k] + "," + reply["uids"][k].get<std::string>() + "\n") == std::string::npos)
                ++missing;
    }
    CHECK(missing == 0);
    CHECK(site.cli({"audit", "verify"}).exit_code == 0);

    // The restarted broker (over the stale socket) serves the same answers.
    site.start();
    for (const auto& [id, reply] : answered)
        if (id == "KILL-0" || id == "KILL-100") CHECK(resolve(site.socket, "H", id, asked_uids[id]) == reply);
}

TEST_CASE("import: pre-assigned values win, errors name lines, nothing is imported on error", "[cli]") {
    BrokerSite site;
    site.start();
    REQUIRE(resolve(site.socket, "", "SEEN", {"1.2.3"})["ok"] == true);
    const std::string bad = site.dir / "bad.csv";
    testsupport::write_file(bad,
                            "patient_id,pseudonym,date_offset_days\n"
                            "NEW-1,TRIAL-001,-10\n"
                            "NEW-2,TRIAL-002,x\n"
                            "SEEN,TRIAL-003\n"
                            "original_uid,new_uid\n"
                            "1.2.99,2.25.99\n"
                            "1.2.98,not-a-uid\n");
    const auto refused = site.cli({"import", "--csv", bad});
    CHECK(refused.exit_code == 1);
    CHECK(refused.output.find("line 3: date_offset_days: expected an integer -36500..-1 (not 0), got \"x\"") !=
          std::string::npos);
    CHECK(refused.output.find("line 4: this patient already has a different pseudonym") != std::string::npos);
    CHECK(refused.output.find("line 7: new_uid") != std::string::npos);
    CHECK(refused.output.find("nothing was imported") != std::string::npos);
    CHECK(site.cli({"lookup", "--patient-id", "NEW-1"}).exit_code == 1);  // all or nothing

    const std::string good = site.dir / "good.csv";
    testsupport::write_file(good,
                            "patient_id,pseudonym,date_offset_days\n"
                            "NEW-1,TRIAL-001,-10\n"
                            "issuer,patient_id,pseudonym\n"
                            "OTHER,NEW-2,TRIAL-002\n"
                            "original_uid,new_uid\n"
                            "1.2.99,2.25.99\n");
    const auto imported = site.cli({"import", "--csv", good, "--json"});
    REQUIRE(imported.exit_code == 0);
    CHECK(json::parse(imported.output)["patients"] == 2);
    // The running broker answers with the imported values.
    const json r = resolve(site.socket, "", "NEW-1", {"1.2.99"});
    CHECK(r["pseudonym"] == "TRIAL-001");
    CHECK(r["date_offset_days"] == -10);
    CHECK(r["uids"] == json::array({"2.25.99"}));
    const json r2 = resolve(site.socket, "OTHER", "NEW-2", {});
    CHECK(r2["pseudonym"] == "TRIAL-002");
    CHECK(r2["date_offset_days"].get<int>() < 0);
    // Export -> import into a fresh keystore round-trips.
    const std::string out = site.dir / "all.csv";
    REQUIRE(site.cli({"export", "--csv", out}).exit_code == 0);
    BrokerSite fresh;
    REQUIRE(fresh.cli({"import", "--csv", out}).exit_code == 0);
    fresh.start();
    CHECK(resolve(fresh.socket, "", "NEW-1", {"1.2.99"}) == r);
    CHECK(resolve(fresh.socket, "", "SEEN", {"1.2.3"}) == resolve(site.socket, "", "SEEN", {"1.2.3"}));
}

TEST_CASE("answers from the broker's memory never go stale when import runs beside it", "[cli][memory]") {
    BrokerSite site;
    site.start();
    const json seen = resolve(site.socket, "", "MEM-1", {"1.2.60.1", "1.2.60.2"});
    REQUIRE(seen["ok"] == true);
    CHECK(resolve(site.socket, "", "MEM-1", {"1.2.60.1", "1.2.60.2"}) == seen);  // from memory now
    const json before = ask(site.socket, {{"op", "health"}});
    CHECK(before["batches_from_memory"].get<int>() >= 1);
    // Trying to change issued values is refused; values for patients and UIDs not seen yet win.
    const std::string change = site.dir / "change.csv";
    testsupport::write_file(change, "patient_id,pseudonym\nMEM-1,TRIAL-X\noriginal_uid,new_uid\n1.2.60.1,2.25.6001\n");
    CHECK(site.cli({"import", "--csv", change}).exit_code == 1);
    const std::string add = site.dir / "add.csv";
    testsupport::write_file(add, "patient_id,pseudonym,date_offset_days\nMEM-2,TRIAL-2,-3\noriginal_uid,new_uid\n1.2.60.3,2.25.6003\n");
    REQUIRE(site.cli({"import", "--csv", add}).exit_code == 0);
    for (int i = 0; i < 3; ++i) {
        CHECK(resolve(site.socket, "", "MEM-1", {"1.2.60.1", "1.2.60.2"}) == seen);
        const json imported = resolve(site.socket, "", "MEM-2", {"1.2.60.3", "1.2.60.1"});
        CHECK(imported["pseudonym"] == "TRIAL-2");
        CHECK(imported["date_offset_days"] == -3);
        CHECK(imported["uids"] == json::array({"2.25.6003", seen["uids"][0]}));
    }
}

TEST_CASE("lookup, reidentify (reason required) and the audit trail", "[cli]") {
    BrokerSite site;
    site.start();
    const json r = resolve(site.socket, "HOSP", "PID-77", {"1.2.840.7777.1"});
    const std::string pseudonym = r["pseudonym"], new_uid = r["uids"][0];

    const auto by_id = site.cli({"lookup", "--patient-id", "PID-77", "--issuer", "HOSP"});
    REQUIRE(by_id.exit_code == 0);
    CHECK(by_id.output.find(pseudonym) != std::string::npos);
    const auto by_pseudonym = site.cli({"lookup", "--pseudonym", pseudonym, "--json"});
    REQUIRE(by_pseudonym.exit_code == 0);
    CHECK(by_pseudonym.output.find("PID-77") == std::string::npos);  // that is re-identification
    CHECK(json::parse(by_pseudonym.output)["patients"][0]["date_offset_days"] == r["date_offset_days"]);

    CHECK(site.cli({"reidentify", "--pseudonym", pseudonym}).exit_code == 2);
    CHECK(site.cli({"reidentify", "--pseudonym", pseudonym, "--reason", "  "}).exit_code == 2);
    const auto who = site.cli({"reidentify", "--pseudonym", pseudonym, "--reason", "incidental finding, ticket 12"});
    REQUIRE(who.exit_code == 0);
    CHECK(who.output.find("PID-77") != std::string::npos);
    const auto uid = site.cli({"reidentify", "--uid", new_uid, "--reason", "recall", "--json"});
    REQUIRE(uid.exit_code == 0);
    CHECK(json::parse(uid.output)["uid"]["original_uid"] == "1.2.840.7777.1");

    const auto stats = site.cli({"stats", "--json"});
    REQUIRE(stats.exit_code == 0);
    CHECK(json::parse(stats.output)["patients"] == 1);
    CHECK(json::parse(stats.output)["uids"] == 1);

    const auto verify = site.cli({"audit", "verify", "--json"});
    REQUIRE(verify.exit_code == 0);
    const json v = json::parse(verify.output);
    CHECK(v["ok"] == true);
    CHECK(v["records"].get<int>() >= 6);  // create, issue, 2 lookups, 2 reidentify

    // The reason, the operation and the operator are in the audit table; the mapping record lists
    // only new values.
    site.stop();
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open((site.keystore_dir + "/keystore.db").c_str(), &h) == SQLITE_OK);
    std::string dump;
    sqlite3_exec(
        h, "SELECT operation || '|' || operator || '|' || reason || '|' || detail FROM audit ORDER BY seq",
        [](void* out, int, char** values, char**) {
            *static_cast<std::string*>(out) += std::string(values[0] ? values[0] : "") + "\n";
            return 0;
        },
        &dump, nullptr);
    sqlite3_close(h);
    CHECK(dump.find("reidentify|") != std::string::npos);
    CHECK(dump.find("|incidental finding, ticket 12|") != std::string::npos);
    CHECK(dump.find("issue|") != std::string::npos);
    CHECK(dump.find(new_uid) != std::string::npos);
    const std::size_t issue_line = dump.find("issue|");
    const std::string issue_record = dump.substr(issue_line, dump.find('\n', issue_line) - issue_line);
    CHECK(issue_record.find("1.2.840.7777.1") == std::string::npos);
    CHECK(issue_record.find("PID-77") == std::string::npos);
}

TEST_CASE("audit verify names the first record that was changed, removed or reordered", "[cli][audit]") {
    BrokerSite site;
    site.start();
    for (int i = 0; i < 4; ++i) REQUIRE(resolve(site.socket, "H", "P" + std::to_string(i), {})["ok"] == true);
    REQUIRE(site.cli({"lookup", "--patient-id", "P1", "--issuer", "H"}).exit_code == 0);
    site.stop();
    REQUIRE(site.cli({"audit", "verify"}).exit_code == 0);
    const std::string db = site.keystore_dir + "/keystore.db";
    const std::string pristine = testsupport::read_file(db);
    struct Case {
        const char* sql;
        const char* expect;
    };
    for (const Case& k : {Case{"UPDATE audit SET detail = '{}' WHERE seq = 3", "record 3"},
                          Case{"DELETE FROM audit WHERE seq = 2", "record 2"},
                          Case{"UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; "
                               "UPDATE audit SET seq = 3 WHERE seq = 100",
                               "record 2"}}) {
        testsupport::write_file(db, pristine);
        tamper(db, k.sql);
        const auto verify = site.cli({"audit", "verify"});
        INFO(k.sql);
        CHECK(verify.exit_code == 1);
        CHECK(verify.output.find(std::string("audit chain BROKEN at ") + k.expect) != std::string::npos);
    }
}

TEST_CASE("BrokerClient caches, reconnects after a restart and never makes values up", "[client]") {
    BrokerSite site;
    site.start();
    keystore::BrokerClient client(site.socket);
    deid::PseudonymRequest q;
    q.issuer = "H";
    q.patient_id = "C-1";
    q.uids = {"1.2.5.1", "1.2.5.2", "1.2.5.1"};
    q.hashes = {"ACC"};
    q.instance_uid = "1.2.5.2";
    const deid::PseudonymReply a = client.resolve(q);
    REQUIRE(a.uids.size() == 3);
    CHECK(a.uids[0] == a.uids[2]);
    CHECK(a.uids[0] != a.uids[1]);
    CHECK(a.hashes.size() == 1);
    CHECK(a.date_offset_days < 0);
    const json direct = resolve(site.socket, "H", "C-1", {"1.2.5.1", "1.2.5.2"}, {"ACC"});
    CHECK(direct["pseudonym"] == a.pseudonym);
    CHECK(direct["uids"][1] == a.uids[1]);

    site.stop();
    // Cached: no round trip needed.
    const deid::PseudonymReply cached = client.resolve(q);
    CHECK(cached.pseudonym == a.pseudonym);
    CHECK(cached.uids == a.uids);
    // Something new with the broker gone: an exception, no made-up value, no original in the message.
    deid::PseudonymRequest fresh = q;
    fresh.uids.push_back("1.2.5.3");
    try {
        client.resolve(fresh);
        FAIL("resolve answered without a broker");
    } catch (const deid::PseudonymUnavailable& e) {
        CHECK(std::string(e.what()).find("1.2.5") == std::string::npos);
        CHECK(std::string(e.what()).find("C-1") == std::string::npos);
    }
    // The broker comes back: the client reconnects.
    site.start();
    const deid::PseudonymReply after = client.resolve(fresh);
    CHECK(after.pseudonym == a.pseudonym);
    CHECK(after.uids[1] == a.uids[1]);

    // Several threads at once.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                deid::PseudonymRequest r;
                r.issuer = "H";
                r.patient_id = "T-" + std::to_string(i % 7);
                r.uids = {"1.2.6." + std::to_string(i), "1.2.6." + std::to_string(i + t)};
                r.instance_uid = r.uids[1];
                try {
                    const auto reply = client.resolve(r);
                    if (reply.uids.size() != 2 || reply.pseudonym.empty()) ++failures;
                } catch (const std::exception&) {
                    ++failures;
                }
            }
        });
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
}

TEST_CASE("the gateway side never opens the keystore database or key file", "[boundary]") {
    BrokerSite site;
    testsupport::Child probe({std::string(DEID_BIN_DIR) + "/keystore-gateway-probe", site.config_path}, site.log);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (testsupport::read_file(site.log).find("READY") == std::string::npos) {
        REQUIRE(probe.running());
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(20ms);
    }
    REQUIRE(testsupport::read_file(site.log).find("READY ANON-") != std::string::npos);
    auto open_files = [](pid_t pid) {
        std::string all;
        for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
            std::error_code ec;
            all += std::filesystem::read_symlink(e.path(), ec).string() + "\n";
        }
        return all;
    };
    const std::string fds = open_files(probe.pid());
    const std::string maps = testsupport::read_file("/proc/" + std::to_string(probe.pid()) + "/maps");
    CHECK(fds.find("keystore.db") == std::string::npos);
    CHECK(fds.find("secret.key") == std::string::npos);
    CHECK(fds.find(site.keystore_dir) == std::string::npos);
    CHECK(maps.find("keystore.db") == std::string::npos);
    CHECK(maps.find("secret.key") == std::string::npos);
    CHECK(maps.find("libsqlite3") == std::string::npos);

    // Positive control: the broker child (the probe's child process) does hold the database.
    pid_t broker = -1;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
        const std::string name = e.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat_file(e.path() / "stat");
        std::string stat_line;
        std::getline(stat_file, stat_line);
        const auto close_paren = stat_line.rfind(')');
        if (close_paren == std::string::npos) continue;
        std::istringstream rest(stat_line.substr(close_paren + 2));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == probe.pid()) broker = std::stoi(name);
    }
    REQUIRE(broker > 0);
    CHECK(open_files(broker).find("keystore.db") != std::string::npos);

    // Stopping the gateway side stops its broker and removes the socket.
    CHECK(probe.stop() == 0);
    CHECK(kill(broker, 0) != 0);
    CHECK_FALSE(std::filesystem::exists(site.socket));
}
