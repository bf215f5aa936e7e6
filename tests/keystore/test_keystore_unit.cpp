#include "keystore/KeyedDerivation.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <set>

#include <catch2/catch.hpp>

#include "keystore/AuditLog.h"
#include "keystore/CsvMapFile.h"
#include "keystore/KeystoreDatabase.h"
#include "keystore/MappingIssuer.h"
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

    const auto results = issuer.issue({{"H", "123", {"1.2.3", "1.2.4", "1.2.3"}, {"ACC"}}, {"H", "PRE", {"9.9.9"}, {}}});
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
    issuer.issue({{"H", "123", {"1.2.3"}, {}}});
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
    const auto results = issuer.issue({{"H", "1", {"1.2.3"}, {}}});
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
