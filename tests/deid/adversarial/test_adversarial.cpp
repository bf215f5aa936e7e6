// Issue 11: the project's adversarial corpus (deid-adversarial, tests/tools/adversarial.cpp)
// through the real `deid-gateway scrub`: no planted identifier released, every planted date
// shifted or removed, CJK instances released with their text; and the verifier, run on the same
// corpus with the cleaning step disabled, flags every planted identifier. The checks here fold
// text their own way (ICU case folding, marks and non-alphanumerics dropped), not with the
// product's normaliser. Values printed on failure are synthetic.
#include "deid/Verifier.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <nlohmann/json.hpp>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "tests/support/Process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kBin = DEID_BIN_DIR;

// Case folded, decomposed, marks and everything but letters and digits dropped.
std::string squash(const std::string& utf8) {
    icu::UnicodeString s = icu::UnicodeString::fromUTF8(utf8);
    s.foldCase();
    UErrorCode e = U_ZERO_ERROR;
    const icu::Normalizer2* nfd = icu::Normalizer2::getNFDInstance(e);
    if (U_SUCCESS(e)) s = nfd->normalize(s, e);
    icu::UnicodeString out;
    for (int32_t i = 0; i < s.length();) {
        const UChar32 c = s.char32At(i);
        i += U16_LENGTH(c);
        if (u_isalnum(c)) out.append(c);
    }
    std::string r;
    out.toUTF8String(r);
    return r;
}

void texts(DcmItem& item, std::string& all, std::map<std::string, std::string>& by_tag, const std::string& prefix) {
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement* e = item.getElement(i);
        char tag[16];
        std::snprintf(tag, sizeof tag, "(%04x,%04x)", e->getTag().getGroup(), e->getTag().getElement());
        if (e->ident() == EVR_SQ) {
            auto* sq = static_cast<DcmSequenceOfItems*>(e);
            for (unsigned long k = 0; k < sq->card(); ++k) texts(*sq->getItem(k), all, by_tag, prefix + tag + "[" + std::to_string(k) + "]/");
            continue;
        }
        if (e->getTag() == DCM_PixelData) continue;
        std::string v;
        if (e->ident() == EVR_OB || e->ident() == EVR_UN) {
            Uint8* p = nullptr;
            if (e->getUint8Array(p).good() && p) v.assign(reinterpret_cast<char*>(p), e->getLength());
            std::replace(v.begin(), v.end(), '\0', ' ');
        } else {
            OFString s;
            if (e->getOFStringArray(s).good()) v = s.c_str();
        }
        by_tag[prefix + tag] = v;
        all += v;
        all += '\n';
    }
}

struct Output {
    std::string all;                          // every value, UTF-8
    std::map<std::string, std::string> tags;  // path -> value
    std::string charset;
};

Output read_output(const std::string& file) {
    DcmFileFormat ff;
    REQUIRE(ff.loadFile(file.c_str()).good());
    Output o;
    OFString cs;
    if (ff.getDataset()->findAndGetOFStringArray(DCM_SpecificCharacterSet, cs).good()) o.charset = cs.c_str();
    INFO("output character set " << o.charset);
    REQUIRE(ff.getDataset()->convertToUTF8().good());  // every output decodes
    texts(*ff.getMetaInfo(), o.all, o.tags, "");
    texts(*ff.getDataset(), o.all, o.tags, "");
    return o;
}

std::string write_config(const testsupport::TempDir& t) {
    const std::string path = t / "config.json";
    testsupport::write_file(path, json{{"state_dir", t / "state"}}.dump());
    return path;
}

}  // namespace

// Every instance of the key released into `out_dir`, no planted value in it, every planted date
// shifted or removed, the text that identifies nobody kept.
void check_released(const json& key, const std::string& out_dir) {
    std::map<int, std::string> outputs;  // instance number -> file
    for (auto& e : fs::recursive_directory_iterator(out_dir)) {
        if (!e.is_regular_file() || e.path().extension() != ".dcm") continue;
        DcmFileFormat ff;
        REQUIRE(ff.loadFile(e.path().c_str()).good());
        long number = 0;
        ff.getDataset()->findAndGetLongInt(DCM_InstanceNumber, number);
        outputs[static_cast<int>(number)] = e.path().string();
    }
    int planted = 0, dates = 0;
    for (const json& inst : key["instances"]) {
        const std::string name = inst["case"];
        INFO("case " << name);
        const int number = inst["instance_number"];
        REQUIRE(outputs.count(number) == 1);  // released, not quarantined
        const Output out = read_output(outputs[number]);
        const std::string all = squash(out.all);
        for (const json& p : inst["planted"]) {
            ++planted;
            const std::string value = p["value"];
            INFO("planted " << p["category"].get<std::string>() << " '" << value << "' in " << p["path"].get<std::string>());
            CHECK(all.find(squash(value)) == std::string::npos);
        }
        for (const json& d : inst["dates"]) {
            ++dates;
            const std::string written = d["written"], date = d["date"];
            INFO("planted date '" << written << "' in " << d["path"].get<std::string>());
            if (date.compare(0, 4, "0000") != 0) {
                CHECK(all.find(squash(written)) == std::string::npos);
                CHECK(all.find(date) == std::string::npos);
            } else {
                // Day and month only: not in the element it was planted in (a short run of digits
                // elsewhere, such as inside a new UID, says nothing).
                const auto it = out.tags.find(d["path"].get<std::string>());
                if (it != out.tags.end()) CHECK(squash(it->second).find(squash(written)) == std::string::npos);
            }
        }
        for (const json& k : inst["keep"]) {
            INFO("text that identifies nobody: '" << k.get<std::string>() << "'");
            CHECK(all.find(squash(k.get<std::string>())) != std::string::npos);
        }
        if (name == "a14_malformed_dates") {
            // Normalised and shifted whole, with the same offset as the well-formed Series Date.
            const std::string study = out.tags.at("(0008,0020)"), series = out.tags.at("(0008,0021)");
            CHECK(study.size() == 8);
            CHECK(study == series);
            CHECK(study != "20230105");
            REQUIRE(out.tags.count("(0008,002a)") == 1);
            CHECK(out.tags.at("(0008,002a)").substr(0, 8) == study);
            CHECK(out.tags.at("(0008,002a)").substr(8) == "102030");
        }
        if (name == "a15_trusted_classes") CHECK(out.tags.at("(0010,1010)") == "090Y");
    }
    CHECK(planted >= 50);
    CHECK(dates >= 10);
}

TEST_CASE("scrub on the adversarial corpus releases every instance and no planted identifier, and shifts or removes every planted date",
          "[adversarial]") {
    testsupport::TempDir t;
    auto gen = testsupport::run({kBin + "/deid-adversarial", "--out", t / "in", "--key", t / "key.json"});
    INFO(gen.output);
    REQUIRE(gen.exit_code == 0);
    const json key = json::parse(testsupport::read_file(t / "key.json"));
    auto r = testsupport::run({kBin + "/deid-gateway", "scrub", "--config", write_config(t), "--out", t / "out", t / "in"},
                              std::chrono::seconds(180));
    INFO(r.output);
    CHECK(r.exit_code == 0);
    check_released(key, t / "out");
}

TEST_CASE("serve on the adversarial corpus sent by storescu releases the same way", "[adversarial][serve]") {
    testsupport::TempDir t;
    auto gen = testsupport::run({kBin + "/deid-adversarial", "--out", t / "in", "--key", t / "key.json"});
    REQUIRE(gen.exit_code == 0);
    const json key = json::parse(testsupport::read_file(t / "key.json"));
    const int port = testsupport::free_port();
    fs::create_directories(t / "outbox");
    testsupport::write_file(t / "config.json",
                            json{{"state_dir", t / "state"},
                                 {"listen", {{"port", port}, {"bind", "127.0.0.1"}, {"ae_title", "DEIDGW"}}},
                                 {"http", {{"port", 0}}},
                                 {"destinations", json::array({{{"name", "outbox"}, {"directory", t / "outbox"}}})}}
                                .dump());
    testsupport::Child gateway({kBin + "/deid-gateway", "serve", "--config", t / "config.json"}, t / "gateway.log");
    REQUIRE(testsupport::wait_for_port(port, std::chrono::milliseconds(30000)));
    std::vector<std::string> argv = {"storescu", "-aec", "DEIDGW", "127.0.0.1", std::to_string(port)};
    for (const json& inst : key["instances"]) argv.push_back(t / ("in/" + inst["file"].get<std::string>()));
    auto sent = testsupport::run(argv, std::chrono::seconds(120));
    INFO(sent.output);
    REQUIRE(sent.exit_code == 0);
    // The event that proves it: every instance's output in the folder destination (bounded wait).
    const std::size_t expected = key["instances"].size();
    auto count = [&] {
        std::size_t n = 0;
        for (auto& e : fs::recursive_directory_iterator(t / "outbox"))
            if (e.is_regular_file() && e.path().extension() == ".dcm") ++n;
        return n;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (count() < expected && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    INFO(testsupport::read_file(t / "gateway.log"));
    REQUIRE(count() == expected);
    gateway.stop();
    check_released(key, t / "outbox");
}

TEST_CASE("the verifier flags every planted identifier of the adversarial corpus with the cleaning step disabled",
          "[adversarial][verifier]") {
    testsupport::TempDir t;
    auto gen = testsupport::run({kBin + "/deid-adversarial", "--out", t / "in", "--key", t / "key.json"});
    REQUIRE(gen.exit_code == 0);
    const json key = json::parse(testsupport::read_file(t / "key.json"));
    config::Profile profile;  // the embedded default profile
    profile.options = {"retain_long_modified_dates", "retain_patient_characteristics", "retain_safe_private",
                       "clean_descriptors", "clean_structured_content", "clean_graphics", "clean_pixel_data"};
    int total = 0, flagged = 0;
    for (const json& inst : key["instances"]) {
        const std::string name = inst["case"];
        DcmFileFormat original;
        REQUIRE(original.loadFile((t / "in/" + inst["file"].get<std::string>()).c_str()).good());
        DcmFileFormat output(original);  // the cleaning step disabled: the output is the input
        const deid::VerifyReport report = deid::verify(profile, deid::collect_identifiers(original), output);
        std::set<std::string> paths;
        for (const deid::Leak& l : report.leaks) paths.insert(l.tag_path);
        for (const char* list : {"planted", "dates"})
            for (const json& p : inst[list]) {
                // Dates that are not the instance's own (a prior exam) cannot be told from shifted
                // ones: only the cleaner's business (the scrub test above).
                if (std::string(list) == "dates") {
                    const std::string date = p["date"];
                    const std::string own_study = key["study_date"], own_birth = key["birth_date"];
                    if (date.substr(4) != own_study.substr(4) && date.substr(4) != own_birth.substr(4)) continue;
                }
                ++total;
                const std::string path = p["path"];
                INFO("case " << name << ": " << list << " " << p.dump() << "; report: " << report.summary());
                if (paths.count(path)) ++flagged;
                else FAIL_CHECK("not flagged");
            }
    }
    std::cout << "verifier recall on the adversarial corpus, cleaning disabled: " << flagged << "/" << total << "\n";
    INFO("recall " << flagged << "/" << total);
    CHECK(flagged == total);
    CHECK(total >= 60);
}
