// Evidence for issue 3: the real `deid-gateway scrub` on (1) the project's own PHI corpus with its
// answer key and (2) third-party files. Values printed on failure are synthetic or public samples.
#include "deid/Verifier.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <nlohmann/json.hpp>

#include "tests/support/Process.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kBin = DEID_BIN_DIR;
const std::string kData = DEID_TEST_DATA;

struct Value {
    std::string path;
    DcmEVR vr;
    std::string text;  // UTF-8
};

void collect(DcmItem& item, const std::string& prefix, std::vector<Value>& out) {
    for (unsigned long i = 0; i < item.card(); ++i) {
        DcmElement* e = item.getElement(i);
        char tag[16];
        std::snprintf(tag, sizeof tag, "(%04x,%04x)", e->getTag().getGroup(), e->getTag().getElement());
        if (e->ident() == EVR_SQ) {
            auto* sq = static_cast<DcmSequenceOfItems*>(e);
            for (unsigned long k = 0; k < sq->card(); ++k)
                collect(*sq->getItem(k), prefix + tag + "[" + std::to_string(k) + "]/", out);
            continue;
        }
        if (e->getTag() == DCM_PixelData) continue;
        OFString s;
        const DcmEVR vr = e->ident();
        if (vr == EVR_OB || vr == EVR_OW || vr == EVR_UN) {
            Uint8* p = nullptr;
            if (vr != EVR_OW && e->getLength() < (1u << 20) && e->getUint8Array(p).good() && p)
                out.push_back({prefix + tag, vr, std::string(reinterpret_cast<char*>(p), e->getLength())});
            continue;
        }
        if (e->getOFStringArray(s).good()) out.push_back({prefix + tag, vr, s.c_str()});
    }
}

// Every value of a file (file meta included), decoded to UTF-8 by DCMTK.
std::vector<Value> values_of(DcmFileFormat& ff) {
    std::vector<Value> out;
    ff.getDataset()->convertToUTF8();
    collect(*ff.getMetaInfo(), "", out);
    collect(*ff.getDataset(), "", out);
    return out;
}

std::string upper(std::string s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 'a' && c <= 'z') s[i] = static_cast<char>(c - 32);
        else if (c == 0xC3 && i + 1 < s.size()) {
            unsigned char d = static_cast<unsigned char>(s[i + 1]);
            if (d >= 0xA0 && d <= 0xBE && d != 0xB7) s[i + 1] = static_cast<char>(d - 0x20);
            ++i;
        }
    }
    return s;
}

std::vector<std::string> dicom_files(const std::string& dir) {
    std::vector<std::string> out;
    if (!fs::exists(dir)) return out;
    for (auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string write_config(const testsupport::TempDir& t) {
    const std::string path = t / "config.json";
    json cfg = {{"state_dir", t / "state"}};
    testsupport::write_file(path, cfg.dump());
    return path;
}

testsupport::RunResult scrub(const std::string& config, const std::string& out, const std::vector<std::string>& inputs) {
    std::vector<std::string> argv = {kBin + "/deid-gateway", "scrub", "--config", config, "--out", out};
    argv.insert(argv.end(), inputs.begin(), inputs.end());
    return testsupport::run(argv, std::chrono::seconds(120));
}

std::string get(DcmItem& ds, const DcmTagKey& tag) {
    OFString s;
    ds.findAndGetOFStringArray(tag, s);
    return s.c_str();
}

long days(const std::string& yyyymmdd) {  // days from civil (proleptic Gregorian)
    int y = std::stoi(yyyymmdd.substr(0, 4));
    const unsigned m = static_cast<unsigned>(std::stoi(yyyymmdd.substr(4, 2)));
    const unsigned d = static_cast<unsigned>(std::stoi(yyyymmdd.substr(6, 2)));
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long>(doe) - 719468;
}

// dciodvfy's error lines with values removed, so input and output can be compared.
std::set<std::string> dciodvfy_errors(const std::string& file) {
    auto r = testsupport::run({"dciodvfy", file}, std::chrono::seconds(60));
    std::set<std::string> out;
    std::istringstream in(r.output);
    static const std::regex value(R"(\s=\s*<[^>]*>)"), number(R"(\b[0-9]+\.[0-9.]+\b|\b[0-9]{2,}\b)"), quoted(R"("[^"]*")");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("Error", 0) != 0) continue;
        line = std::regex_replace(line, value, " =<>");
        line = std::regex_replace(line, quoted, "\"\"");
        line = std::regex_replace(line, number, "#");
        static const std::regex uid_value(R"(UID\s+[0-9.#]+)");  // "... ReferencedSOPInstanceUID 0" vs a new UID
        line = std::regex_replace(line, uid_value, "UID #");
        out.insert(line);
    }
    return out;
}

}  // namespace

TEST_CASE("scrub on the generated PHI corpus leaks nothing and keeps references pseudonyms intervals and research attributes",
          "[corpus]") {
    testsupport::TempDir t;
    auto gen = testsupport::run({kBin + "/deid-generate", "phi", "--out", t / "in", "--key", t / "key.json"});
    REQUIRE(gen.exit_code == 0);
    const json key = json::parse(testsupport::read_file(t / "key.json"));
    auto r = scrub(write_config(t), t / "out", {t / "in"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const auto outputs = dicom_files(t / "out");
    REQUIRE(outputs.size() == key["instances"].size());

    // Names and ids of every patient are searched in every output; dates and UIDs of the instance itself.
    std::vector<std::string> everyone;
    for (const auto& inst : key["instances"])
        for (const auto& v : inst["identifying"]) {
            std::string s = v.get<std::string>();
            if (s.size() == 8 && std::all_of(s.begin(), s.end(), ::isdigit)) continue;  // dates: own patient only
            if (s.find('/') != std::string::npos) continue;
            everyone.push_back(upper(s));
        }

    std::map<int, const json*> by_number;
    for (const auto& inst : key["instances"]) by_number[inst["instance_number"].get<int>()] = &inst;
    std::set<std::string> output_uids;
    std::vector<std::string> references;
    std::map<std::string, std::set<std::string>> ids_of, names_of;                  // patient -> pseudonyms
    std::map<std::string, std::map<int, std::set<std::string>>> study_dates_of;     // patient -> study -> dates
    std::set<int> seen;

    for (const std::string& file : outputs) {
        DcmFileFormat ff;
        REQUIRE(ff.loadFile(file.c_str()).good());
        DcmDataset* ds = ff.getDataset();
        const int number = std::atoi(get(*ds, DCM_InstanceNumber).c_str());
        INFO("output " << file << " (instance number " << number << ")");
        REQUIRE(by_number.count(number) == 1);
        REQUIRE(seen.insert(number).second);
        const json& inst = *by_number[number];
        const std::string patient = inst["patient"];
        output_uids.insert(get(*ds, DCM_SOPInstanceUID));
        ids_of[patient].insert(get(*ds, DCM_PatientID));
        names_of[patient].insert(get(*ds, DCM_PatientName));
        study_dates_of[patient][inst["study"].get<int>()].insert(get(*ds, DCM_StudyDate));

        // Research attributes: as in the input.
        DcmFileFormat in;
        REQUIRE(in.loadFile((t / "in/" + inst["file"].get<std::string>()).c_str()).good());
        std::vector<DcmTagKey> research = {DCM_Modality, DCM_Manufacturer};
        if (inst["kind"] == "ct")
            research.insert(research.end(), {DCM_Rows, DCM_Columns, DCM_PixelSpacing, DCM_SliceThickness,
                                             DCM_ImagePositionPatient, DCM_ImageOrientationPatient, DCM_RescaleSlope,
                                             DCM_RescaleIntercept, DCM_KVP});
        for (const DcmTagKey& tag : research) {
            INFO("research attribute " << DcmTag(tag).getTagName());
            CHECK(get(*ds, tag) == get(*in.getDataset(), tag));
            CHECK_FALSE(get(*ds, tag).empty());
        }

        std::vector<std::string> own;
        for (const auto& v : inst["identifying"]) own.push_back(upper(v.get<std::string>()));
        const auto values = values_of(ff);
        for (std::size_t i = 0; i < values.size(); ++i) {
            const Value& v = values[i];
            const std::string text = upper(v.text);
            if (v.path.size() >= 11 && v.path.compare(v.path.size() - 11, 11, "(0008,1155)") == 0) {
                // Referenced SOP Instance UID: an instance of this corpus unless its class is a study.
                const std::string cls = i > 0 && values[i - 1].path.find("(0008,1150)") != std::string::npos ? values[i - 1].text : "";
                if (cls != "1.2.840.10008.3.1.2.3.1") references.push_back(v.text);
            }
            for (const auto* list : {&own, &everyone})
                for (const std::string& needle : *list) {
                    const bool uid = needle.find('.') != std::string::npos && std::all_of(needle.begin(), needle.end(), [](char c) { return ::isdigit(c) || c == '.'; });
                    if (!uid && v.vr == EVR_UI) continue;  // digits of new UIDs are not dates
                    if (text.find(needle) != std::string::npos) FAIL_CHECK("planted value '" << needle << "' in " << v.path);
                }
        }
    }

    SECTION("references between instances stay intact") {
        CHECK(references.size() >= 12);  // at least the SR evidence and content references
        for (const std::string& ref : references) {
            INFO("Referenced SOP Instance UID " << ref);
            CHECK(output_uids.count(ref) == 1);
        }
    }
    SECTION("one pseudonym per patient across studies, different between patients") {
        std::set<std::string> all;
        for (const auto& p : key["patients"]) {
            const std::string k = p["key"];
            INFO("patient " << k);
            REQUIRE(ids_of[k].size() == 1);
            REQUIRE(names_of[k].size() == 1);
            CHECK_FALSE(ids_of[k].begin()->empty());
            CHECK(*ids_of[k].begin() != p["patient_id"].get<std::string>());
            all.insert(*ids_of[k].begin());
        }
        CHECK(all.size() == key["patients"].size());
    }
    SECTION("intervals between a patient's study dates are exact, the dates themselves shifted") {
        for (const auto& p : key["patients"]) {
            const std::string k = p["key"];
            INFO("patient " << k);
            const auto& original = p["study_dates"];
            REQUIRE(study_dates_of[k].size() == original.size());
            for (std::size_t s = 0; s < original.size(); ++s) REQUIRE(study_dates_of[k][static_cast<int>(s)].size() == 1);
            const std::string out0 = *study_dates_of[k][0].begin(), out1 = *study_dates_of[k][1].begin();
            REQUIRE(out0.size() == 8);
            REQUIRE(out1.size() == 8);
            CHECK(out0 != original[0].get<std::string>());
            CHECK(days(out1) - days(out0) == days(original[1]) - days(original[0]));
        }
    }
}

TEST_CASE("scrub on third-party files leaks nothing and adds no dciodvfy error and malformed files fail cleanly",
          "[corpus]") {
    const std::string root = kData + "/corpus";
    std::ifstream list(root + "/FILES.tsv");
    REQUIRE(list.good());
    config::Profile profile;  // the embedded default profile, as scrub uses it
    profile.options = {"retain_long_modified_dates", "retain_patient_characteristics", "retain_safe_private",
                       "clean_descriptors", "clean_structured_content", "clean_graphics", "clean_pixel_data"};
    testsupport::TempDir t;
    const std::string config = write_config(t);
    int n = 0;
    for (std::string line; std::getline(list, line);) {
        const auto tab = line.find('\t');
        if (tab == std::string::npos) continue;
        const std::string rel = line.substr(0, tab), expect = line.substr(tab + 1);
        const std::string input = root + "/" + rel, out = t / ("out" + std::to_string(n++));
        DYNAMIC_SECTION(rel) {
            auto r = scrub(config, out, {input});
            INFO(r.output);
            const auto outputs = dicom_files(out);
            if (expect == "malformed") {
                CHECK(r.exit_code == 1);  // reported as failed; -1 would be a crash or a hang
                CHECK(outputs.empty());
                continue;
            }
            REQUIRE(r.exit_code == 0);
            REQUIRE(outputs.size() == 1);
            DcmFileFormat original, output;
            REQUIRE(original.loadFile(input.c_str()).good());
            REQUIRE(output.loadFile(outputs[0].c_str()).good());
            // The verifier on the original's identifiers ...
            auto report = deid::verify(profile, deid::collect_identifiers(original), output);
            CHECK(report.summary() == "clean");
            // ... and independently: the original's name, id and accession number nowhere in the output.
            std::vector<std::string> needles;
            for (const DcmTagKey& tag : {DCM_PatientName, DCM_PatientID, DCM_AccessionNumber, DCM_PatientBirthDate}) {
                DcmFileFormat copy(original);
                copy.getDataset()->convertToUTF8();
                std::string v = upper(get(*copy.getDataset(), tag));
                if (v.size() >= 4 && v != "ANONYMOUS" && v != "ANONYMIZED") needles.push_back(v);
            }
            for (const Value& v : values_of(output))
                for (const std::string& needle : needles)
                    if (v.vr != EVR_UI && upper(v.text).find(needle) != std::string::npos)
                        FAIL_CHECK("original value '" << needle << "' in " << v.path);
            // No error from dciodvfy that the input did not have.
            const auto before = dciodvfy_errors(input), after = dciodvfy_errors(outputs[0]);
            for (const std::string& e : after)
                if (!before.count(e)) FAIL_CHECK("new dciodvfy error: " << e);
        }
    }
}
