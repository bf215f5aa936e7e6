#include "keystore/KeyedDerivation.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <memory>
#include <set>

#include <catch2/catch.hpp>

#include "keystore/AuditLog.h"
#include "keystore/CsvMapFile.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/MappingIssuer.h"
#include "keystore/RecordedSet.h"
#include "keystore/WalCheckpointer.h"
#include "keystore/SecretKey.h"
#include "tests/support/Process.h"

using namespace keystore;

namespace {

SecretBytes secret(unsigned char fill) {
    SecretBytes s;
    s.fill(fill);
    return s;
}

}  // namespace

TEST_CASE("derivation is keyed and deterministic", "[derivation]") {
    const KeyedDerivation a(secret(1), -365, -1), a2(secret(1), -365, -1), b(secret(2), -365, -1);
    CHECK(a.pseudonym("H", "123") == a2.pseudonym("H", "123"));
    CHECK(a.pseudonym("H", "123") != b.pseudonym("H", "123"));
    CHECK(a.pseudonym("H", "123") != a.pseudonym("H2", "123"));
    // issuer/id boundaries are unambiguous ("A"+"BC" vs "AB"+"C")
    CHECK(a.pseudonym("A", "BC") != a.pseudonym("AB", "C"));
    CHECK(a.uid("1.2.3") == a2.uid("1.2.3"));
    CHECK(a.uid("1.2.3") != b.uid("1.2.3"));
    CHECK(a.hash("ACC1") == a2.hash("ACC1"));
    CHECK(a.hash("ACC1") != b.hash("ACC1"));
    CHECK(a.pseudonym("H", "123").rfind("ANON-", 0) == 0);
    CHECK(a.pseudonym("H", "123").size() == 25);
    CHECK(a.hash("x").size() == 32);
}

TEST_CASE("derived UIDs are valid 2.25 UIDs of at most 64 characters", "[derivation]") {
    const KeyedDerivation d(secret(7), -365, -1);
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {
        const std::string u = d.uid("1.2.840.10008." + std::to_string(i));
        CHECK(u.rfind("2.25.", 0) == 0);
        CHECK(u.size() <= 64);
        CHECK(CsvMapFile::valid_uid(u));
        seen.insert(u);
    }
    CHECK(seen.size() == 2000);
}

TEST_CASE("date offsets stay in the configured range and are never 0", "[derivation]") {
    const KeyedDerivation narrow(secret(3), -3, -1), wide(secret(3), -365, -1);
    std::set<int> values;
    for (int i = 0; i < 3000; ++i) {
        const int n = narrow.date_offset_days("H", std::to_string(i));
        REQUIRE(n >= -3);
        REQUIRE(n <= -1);
        values.insert(n);
        const int w = wide.date_offset_days("H", std::to_string(i));
        REQUIRE(w >= -365);
        REQUIRE(w <= -1);
    }
    CHECK(values.size() == 3);
    CHECK_THROWS(KeyedDerivation(secret(3), -5, 0));
}

TEST_CASE("CSV map files: sections, quoting and line-numbered errors", "[csv]") {
    const std::string text =
        "# pre-assigned\n"
        "patient_id,pseudonym,date_offset_days\n"
        "P1,TRIAL-001,-10\n"
        "\"P,2\",TRIAL-002\n"
        "P3,TRIAL-003,x\n"
        "P4,TRIAL-004,0\n"
        "P1,TRIAL-005\n"
        "issuer,patient_id,pseudonym\n"
        "HOSP,P1,TRIAL-006\n"
        "original_uid,new_uid\n"
        "1.2.3,2.25.1\n"
        "1.2.4,2.25.01\n"
        "1.2.5,2.25.1\n"
        "1.2.6\n";
    const CsvMap map = CsvMapFile::parse(text, "DEFAULT");
    REQUIRE(map.patients.size() == 3);
    CHECK(map.patients[0].issuer == "DEFAULT");
    CHECK(map.patients[0].date_offset_days == -10);
    CHECK(map.patients[1].patient_id == "P,2");
    CHECK_FALSE(map.patients[1].date_offset_days.has_value());
    CHECK(map.patients[2].issuer == "HOSP");
    REQUIRE(map.uids.size() == 1);
    REQUIRE(map.errors.size() == 6);
    CHECK(map.errors[0] == "line 5: date_offset_days: expected an integer -36500..-1 (not 0), got \"x\"");
    CHECK(map.errors[1] == "line 6: date_offset_days: expected an integer -36500..-1 (not 0), got \"0\"");
    CHECK(map.errors[2] == "line 7: patient already listed on line 3");
    CHECK(map.errors[3].rfind("line 12: new_uid: expected a valid UID", 0) == 0);
    CHECK(map.errors[4] == "line 13: new_uid: already used on line 11");
    CHECK(map.errors[5].rfind("line 14: expected 2 fields", 0) == 0);

    CHECK(CsvMapFile::parse("P1,X\n", "").errors.at(0).rfind("line 1: a header line must come first", 0) == 0);
    std::vector<std::string> fields;
    REQUIRE(CsvMapFile::split(CsvMapFile::line({"a,b", "say \"hi\"", "plain"}), fields));
    CHECK(fields == std::vector<std::string>{"a,b", "say \"hi\"", "plain"});
}

TEST_CASE("issuing records every mapping in the database and recorded values win", "[issuer]") {
    testsupport::TempDir dir;
    KeystoreDatabase db(dir / "keystore.db", KeystoreDatabase::Open::create);
    const KeyedDerivation d(secret(9), -365, -1);
    MappingIssuer issuer(db, d);

    // A pre-assigned (imported) patient and UID.
    db.begin_immediate();
    PatientMapping pre;
    pre.issuer = "H";
    pre.patient_id = "PRE";
    pre.pseudonym = "TRIAL-7";
    pre.date_offset_days = -42;
    pre.imported = true;
    REQUIRE(db.insert_patient(pre));
    REQUIRE(db.insert_uid({"9.9.9", "2.25.777", 0, true}));
    db.commit();

    const auto results = issuer.issue({{"H", "123", {"1.2.3", "1.2.4", "1.2.3"}, {"ACC"}, "1.2.826.0.1.9"}, {"H", "PRE", {"9.9.9"}, {}, "1.2.826.0.1.9"}});
    REQUIRE(results.size() == 2);
    CHECK(results[0].error.empty());
    CHECK(results[0].pseudonym == d.pseudonym("H", "123"));
    CHECK(results[0].date_offset_days == d.date_offset_days("H", "123"));
    CHECK(results[0].uids == std::vector<std::string>{d.uid("1.2.3"), d.uid("1.2.4"), d.uid("1.2.3")});
    CHECK(results[0].hashes == std::vector<std::string>{d.hash("ACC")});
    CHECK(results[1].pseudonym == "TRIAL-7");
    CHECK(results[1].date_offset_days == -42);
    CHECK(results[1].uids == std::vector<std::string>{"2.25.777"});

    CHECK(db.find_patient("H", "123").value().pseudonym == d.pseudonym("H", "123"));
    CHECK(db.find_uid("1.2.4").value() == d.uid("1.2.4"));
    CHECK(db.counts().patients == 1);  // counts follow what was issued (import counts its own)
    CHECK(db.counts().uids == 2);
    CHECK(issuer.new_patients() == 1);
    CHECK(issuer.new_uids() == 2);

    // Asking again issues nothing new.
    issuer.issue({{"H", "123", {"1.2.3"}, {}, "1.2.826.0.1.9"}});
    CHECK(issuer.new_uids() == 2);
    // One audit record per batch that issued something, listing new values only.
    const AuditVerification v = AuditLog(db).verify();
    CHECK(v.ok);
    CHECK(v.records == 1);
}

TEST_CASE("a UID whose derived replacement is already taken is refused, not reused", "[issuer]") {
    testsupport::TempDir dir;
    KeystoreDatabase db(dir / "keystore.db", KeystoreDatabase::Open::create);
    const KeyedDerivation d(secret(9), -365, -1);
    db.begin_immediate();
    REQUIRE(db.insert_uid({"5.5.5", d.uid("1.2.3"), 0, true}));  // imported mapping that clashes
    db.commit();
    MappingIssuer issuer(db, d);
    const auto results = issuer.issue({{"H", "1", {"1.2.3"}, {}, "1.2.826.0.1.9"}});
    CHECK_FALSE(results[0].error.empty());
    CHECK(results[0].error.find("1.2.3") == std::string::npos);
    CHECK(results[0].uids.empty());
}

TEST_CASE("the audit chain detects changed, removed and reordered records", "[audit]") {
    testsupport::TempDir dir;
    const std::string path = dir / "keystore.db";
    {
        KeystoreDatabase db(path, KeystoreDatabase::Open::create);
        db.begin_immediate();
        for (int i = 0; i < 5; ++i) AuditLog(db).append("lookup", "reason " + std::to_string(i), {{"n", i}});
        db.commit();
        const auto v = AuditLog(db).verify();
        CHECK(v.ok);
        CHECK(v.records == 5);
        CHECK(v.head_hash.size() == 64);
    }
    auto tamper_and_verify = [&](const char* sql) {
        testsupport::TempDir copy;
        const std::string copy_path = copy / "keystore.db";
        testsupport::write_file(copy_path, testsupport::read_file(path));
        sqlite3* h = nullptr;
        REQUIRE(sqlite3_open(copy_path.c_str(), &h) == SQLITE_OK);
        REQUIRE(sqlite3_exec(h, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(h);
        KeystoreDatabase db(copy_path, KeystoreDatabase::Open::existing);
        return AuditLog(db).verify();
    };
    auto changed = tamper_and_verify("UPDATE audit SET reason = 'other' WHERE seq = 3");
    CHECK_FALSE(changed.ok);
    CHECK(changed.first_bad_seq == 3);
    auto removed = tamper_and_verify("DELETE FROM audit WHERE seq = 2");
    CHECK_FALSE(removed.ok);
    CHECK(removed.first_bad_seq == 2);
    auto reordered = tamper_and_verify(
        "UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; "
        "UPDATE audit SET seq = 4 WHERE seq = -1");
    CHECK_FALSE(reordered.ok);
    CHECK(reordered.first_bad_seq == 3);
    // Re-hashing a changed record is not enough: the next record's prev_hash no longer matches.
    auto rehashed = tamper_and_verify("UPDATE audit SET hash = 'x' WHERE seq = 2");
    CHECK_FALSE(rehashed.ok);
    CHECK(rehashed.first_bad_seq == 2);
}

TEST_CASE("the secret key file is created 0600 in a 0700 folder and reused", "[key]") {
    testsupport::TempDir dir;
    const std::string ks = dir / "keystore";
    prepare_keystore_dir(ks);
    struct stat st {};
    REQUIRE(stat(ks.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    const SecretBytes a = SecretKey::load(ks, true);
    const SecretBytes b = SecretKey::load(ks, false);
    CHECK(a == b);
    REQUIRE(stat((ks + "/secret.key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 32);
    chmod((ks + "/secret.key").c_str(), 0644);
    CHECK_THROWS_WITH(SecretKey::load(ks, false), Catch::Contains("chmod 600"));
    chmod(ks.c_str(), 0755);
    CHECK_THROWS_WITH(prepare_keystore_dir(ks), Catch::Contains("chmod 700"));
}

TEST_CASE("derived values are HMAC-SHA256 of the documented messages (existing keystores stay valid)", "[derivation]") {
    const SecretBytes key = secret(5);
    const KeyedDerivation d(key, -365, -1);
    auto hmac = [&](const std::string& message) {
        unsigned char out[32];
        unsigned int n = 0;
        REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                     reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &n) != nullptr);
        return std::vector<unsigned char>(out, out + n);
    };
    auto hex = [](const std::vector<unsigned char>& v, std::size_t n, bool upper) {
        std::string s;
        char buf[3];
        for (std::size_t i = 0; i < n; ++i) {
            std::snprintf(buf, sizeof buf, upper ? "%02X" : "%02x", v[i]);
            s += buf;
        }
        return s;
    };
    using namespace std::string_literals;
    CHECK(d.pseudonym("H", "123") == "ANON-" + hex(hmac("patient\0H\0"s "123"), 10, true));
    CHECK(d.hash("ACC1") == hex(hmac("hash\0"s "ACC1"), 16, false));
    CHECK(d.key_check() == hex(hmac("key-check"), 32, false));
    const auto u = hmac("uid\0"s "1.2.3");
    std::unique_ptr<BIGNUM, decltype(&BN_free)> n(BN_bin2bn(u.data(), 16, nullptr), &BN_free);
    char* dec = BN_bn2dec(n.get());
    CHECK(d.uid("1.2.3") == "2.25." + std::string(dec));
    OPENSSL_free(dec);
    const auto o = hmac("offset\0H\0"s "123");
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | o[static_cast<std::size_t>(i)];
    CHECK(d.date_offset_days("H", "123") == -365 + static_cast<int>(v % 365));
    // A key whose top bytes are 0 still formats without leading zeros; the all-ones key is the maximum.
    MacKey small{};
    small[15] = 7;
    CHECK(KeyedDerivation::uid_from(small) == "2.25.7");
    MacKey max;
    max.fill(0xff);
    CHECK(KeyedDerivation::uid_from(max) == "2.25.340282366920938463463374607431768211455");
}

TEST_CASE("the in-memory set of recorded mappings is bounded and keeps what is in use", "[memory]") {
    RecordedSet set(4);  // two generations of 2
    auto key = [](unsigned char i) {
        MacKey k{};
        k[0] = i;
        k[15] = i;
        return k;
    };
    for (unsigned char i = 1; i <= 10; ++i) {
        set.insert(key(i));
        CHECK(set.size() <= 4);
        CHECK(set.contains(key(1)));  // key 1 stays in use, so it survives every generation change
    }
    CHECK(set.contains(key(1)));
    CHECK(set.contains(key(10)));
    CHECK_FALSE(set.contains(key(2)));
    CHECK_FALSE(set.contains(key(99)));
}

TEST_CASE("answers from memory are what the database holds, also after an import", "[issuer][memory]") {
    testsupport::TempDir dir;
    KeystoreDatabase db(dir / "keystore.db", KeystoreDatabase::Open::create);
    const KeyedDerivation d(secret(9), -365, -1);
    MappingIssuer issuer(db, d, 4, 8);  // tiny sets: eviction happens in this test

    const auto first = issuer.issue({{"H", "P1", {"1.1", "1.2"}, {"ACC"}, "1.2.826.0.1.9"}});
    CHECK(issuer.transactions() == 1);
    CHECK(issuer.batches_from_memory() == 0);
    const auto again = issuer.issue({{"H", "P1", {"1.2", "1.1"}, {"ACC"}, "1.2.826.0.1.9"}});
    CHECK(issuer.transactions() == 1);  // answered from memory: no transaction
    CHECK(issuer.batches_from_memory() == 1);
    CHECK(again[0].pseudonym == first[0].pseudonym);
    CHECK(again[0].date_offset_days == first[0].date_offset_days);
    CHECK(again[0].uids == std::vector<std::string>{first[0].uids[1], first[0].uids[0]});
    CHECK(again[0].hashes == first[0].hashes);
    CHECK(db.find_uid("1.2").value() == again[0].uids[0]);

    // `import` (another connection, as the CLI is) pre-assigns values for a patient and UIDs that the
    // broker has not seen, and tries to change issued ones (refused by import itself; here: the rows
    // already exist, so INSERT OR IGNORE keeps them).
    {
        KeystoreDatabase other(dir / "keystore.db", KeystoreDatabase::Open::existing);
        other.begin_immediate();
        REQUIRE(other.insert_patient({"H", "Q", "TRIAL-Q", -5, 0, true}));
        REQUIRE(other.insert_uid({"9.9", "2.25.9", 0, true}));
        CHECK_FALSE(other.insert_uid({"1.1", "2.25.1111", 0, true}));
        other.commit();
    }
    for (int round = 0; round < 3; ++round) {
        const auto r = issuer.issue({{"H", "Q", {"9.9", "1.1"}, {}, "1.2.826.0.1.9"}});
        CHECK(r[0].pseudonym == "TRIAL-Q");
        CHECK(r[0].date_offset_days == -5);
        CHECK(r[0].uids == std::vector<std::string>{"2.25.9", first[0].uids[0]});
    }
    CHECK(issuer.batches_from_memory() == 1);  // imported values are never answered from memory

    // Evict P1's UIDs with many others; asking again goes to the database and answers the same.
    for (int i = 0; i < 6; ++i) issuer.issue({{"H", "E" + std::to_string(i), {"7." + std::to_string(i), "8." + std::to_string(i)}, {}, "1.2.826.0.1.9"}});
    const auto transactions = issuer.transactions();
    const auto after = issuer.issue({{"H", "P1", {"1.1", "1.2"}, {}, "1.2.826.0.1.9"}});
    CHECK(after[0].uids == first[0].uids);
    CHECK(after[0].pseudonym == first[0].pseudonym);
    CHECK(issuer.transactions() == transactions + 1);
    CHECK(AuditLog(db).verify().ok);
}

TEST_CASE("WAL checkpoints happen on the checkpoint thread, not on the committing connection", "[checkpoint]") {
    testsupport::TempDir dir;
    const std::string path = dir / "keystore.db";
    KeystoreDatabase db(path, KeystoreDatabase::Open::create);
    const auto db_file_size = [&] { return std::filesystem::file_size(path); };
    const auto wal_size = [&] { return std::filesystem::file_size(path + "-wal"); };
    {
        WalCheckpointer checkpointer(db, path);
        const auto before = db_file_size();
        for (int i = 0; i < 1500; ++i) {  // about 3 WAL frames per transaction
            db.begin_immediate();
            REQUIRE(db.insert_uid({"1.2.3." + std::to_string(i) + std::string(300, '7'), "2.25." + std::to_string(i), 0, false}));
            db.commit();
        }
        REQUIRE(wal_size() > 2000u * 4096u);
        // The serving connection no longer checkpoints by itself; the thread copies the pages into
        // the database file soon after the WAL passed 2,000 frames (1,500 rows of 300+ bytes).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (db_file_size() <= before + 400000u && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        CHECK(db_file_size() > before + 400000u);
    }
    // Everything committed is readable after the thread stopped.
    CHECK(db.find_uid("1.2.3.1499" + std::string(300, '7')).value() == "2.25.1499");
}
