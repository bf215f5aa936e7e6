// dimse::accept_presentation_contexts answers every proposed presentation context exactly as DCMTK's
// ASC_acceptContextsWithPreferredTransferSyntaxes did for the listener (Verification with the echo
// syntaxes, then every storage SOP class with the store syntaxes): same result, reason, accepted
// transfer syntax and role, context by context, on a request of 128 contexts. And two other DICOM
// stacks' storage SCUs (GDCM's gdcmscu, PixelMed's StorageSOPClassSCU) negotiate with the listener
// and store what they send.
#include "dimse/PresentationContexts.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <dcmtk/dcmdata/dcuid.h>

#include "../support/Process.h"
#include "ListenerSupport.h"
#include "TestInstances.h"

namespace {

struct Proposal {
    std::string abstract_syntax;
    std::vector<const char*> transfer_syntaxes;
    T_ASC_SC_ROLE role = ASC_SC_ROLE_DEFAULT;
};

const char* kEcho[] = {UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                       UID_LittleEndianImplicitTransferSyntax};
const char* kStore[] = {UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
                        UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
                        UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax,
                        UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
                        UID_RLELosslessTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
                        UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax,
                        UID_LittleEndianImplicitTransferSyntax};

std::vector<Proposal> proposals() {
    std::vector<Proposal> p = {
        {UID_VerificationSOPClass, {UID_LittleEndianImplicitTransferSyntax}},
        {UID_VerificationSOPClass, {UID_JPEGProcess1TransferSyntax}},
        {UID_CTImageStorage, {UID_JPEG2000LosslessOnlyTransferSyntax, UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}},
        {UID_CTImageStorage, {UID_LittleEndianImplicitTransferSyntax, UID_LittleEndianExplicitTransferSyntax}},
        {UID_MRImageStorage, {"1.2.840.10008.1.2.4.201"}},  // HTJ2K lossless: not accepted
        {"1.2.3.4.5.6", {UID_LittleEndianImplicitTransferSyntax}},
        {UID_FINDModalityWorklistInformationModel, {UID_LittleEndianImplicitTransferSyntax}},
        {UID_CTImageStorage, {UID_LittleEndianImplicitTransferSyntax}, ASC_SC_ROLE_SCP},
        {UID_CTImageStorage, {UID_LittleEndianImplicitTransferSyntax}, ASC_SC_ROLE_SCUSCP},
        {UID_CTImageStorage, {UID_LittleEndianImplicitTransferSyntax}, ASC_SC_ROLE_SCU},
        {UID_ComprehensiveSRStorage, {UID_DeflatedExplicitVRLittleEndianTransferSyntax, UID_LittleEndianExplicitTransferSyntax}},
        {UID_SecondaryCaptureImageStorage, {UID_JPEGProcess2_4TransferSyntax, UID_JPEGProcess1TransferSyntax}},
    };
    // Then storage SOP classes, as storescu proposes them, up to 128 contexts in all.
    for (int i = 0; p.size() < 128 && i < numberOfDcmAllStorageSOPClassUIDs; ++i)
        p.push_back({dcmAllStorageSOPClassUIDs[i],
                     {UID_LittleEndianExplicitTransferSyntax, UID_BigEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax}});
    return p;
}

T_ASC_Parameters* request(const std::vector<Proposal>& p) {
    T_ASC_Parameters* params = nullptr;
    REQUIRE(ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU).good());
    for (std::size_t i = 0; i < p.size(); ++i) {
        std::vector<const char*> ts = p[i].transfer_syntaxes;
        REQUIRE(ASC_addPresentationContext(params, static_cast<T_ASC_PresentationContextID>(2 * i + 1),
                                           p[i].abstract_syntax.c_str(), ts.data(), static_cast<int>(ts.size()),
                                           p[i].role)
                    .good());
    }
    return params;
}

}  // namespace

TEST_CASE("presentation contexts: one pass answers each context as DCMTK's accept functions did") {
    const std::vector<Proposal> p = proposals();
    REQUIRE(p.size() == 128);
    T_ASC_Parameters* dcmtk = request(p);
    T_ASC_Parameters* ours = request(p);

    const char* verification[] = {UID_VerificationSOPClass};
    ASC_acceptContextsWithPreferredTransferSyntaxes(dcmtk, verification, 1, kEcho, DIM_OF(kEcho));
    ASC_acceptContextsWithPreferredTransferSyntaxes(dcmtk, dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs,
                                                    kStore, DIM_OF(kStore));
    const dimse::AcceptedSyntaxes sets[] = {
        {verification, 1, kEcho, DIM_OF(kEcho)},
        {dcmAllStorageSOPClassUIDs, numberOfDcmAllStorageSOPClassUIDs, kStore, DIM_OF(kStore)}};
    REQUIRE(dimse::accept_presentation_contexts(ours, sets, DIM_OF(sets)).good());

    REQUIRE(ASC_countPresentationContexts(ours) == ASC_countPresentationContexts(dcmtk));
    int accepted = 0, refused = 0;
    for (int i = 0; i < ASC_countPresentationContexts(dcmtk); ++i) {
        T_ASC_PresentationContext a, b;
        REQUIRE(ASC_getPresentationContext(dcmtk, i, &a).good());
        REQUIRE(ASC_getPresentationContext(ours, i, &b).good());
        INFO("context " << int(a.presentationContextID) << " " << a.abstractSyntax);
        CHECK(b.presentationContextID == a.presentationContextID);
        CHECK(b.resultReason == a.resultReason);
        CHECK(b.acceptedRole == a.acceptedRole);
        if (a.resultReason == ASC_P_ACCEPTANCE) {
            CHECK(std::string(b.acceptedTransferSyntax) == a.acceptedTransferSyntax);
            ++accepted;
        } else {
            ++refused;
        }
    }
    CHECK(ASC_countAcceptedPresentationContexts(ours) == ASC_countAcceptedPresentationContexts(dcmtk));
    // The request has both kinds, so the comparison above can fail either way.
    CHECK(accepted > 100);
    CHECK(refused >= 4);
    ASC_destroyAssociationParameters(&dcmtk);
    ASC_destroyAssociationParameters(&ours);
}

TEST_CASE("presentation contexts: a request without any is answered with DCMTK's condition") {
    T_ASC_Parameters* params = nullptr;
    REQUIRE(ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU).good());
    const char* verification[] = {UID_VerificationSOPClass};
    const dimse::AcceptedSyntaxes sets[] = {{verification, 1, kEcho, DIM_OF(kEcho)}};
    CHECK(dimse::accept_presentation_contexts(params, sets, 1) == ASC_NOPRESENTATIONCONTEXTPROPOSED);
    ASC_destroyAssociationParameters(&params);
}

TEST_CASE("presentation contexts: GDCM's and PixelMed's storage SCUs store into the listener") {
    testsupport::TempDir dir;
    std::filesystem::create_directories(dir / "in");
    std::filesystem::create_directories(dir / "receive");
    testdata::StudySpec spec;
    spec.series = {testdata::Series{"CT", UID_CTImageStorage, 2}, testdata::Series{"MR", UID_MRImageStorage, 1}};
    const std::vector<testdata::Written> files = testdata::write_study(dir / "in", spec);
    REQUIRE(files.size() == 3);

    listenertest::CountingHandler handler;
    listenertest::LogLines logs;
    dimse::ScpSettings s;
    s.ae_title = "DEIDGW";
    s.bind = "127.0.0.1";
    s.port = 0;
    s.receive_dir = dir / "receive";
    s.log = logs.sink();
    dimse::StoreScp scp(s, handler);
    REQUIRE_FALSE(scp.start());
    const std::string port = std::to_string(scp.port());
    auto wait_stored = [&](int n) {
        testsupport::wait_until([&] { return handler.stored >= n; }, std::chrono::seconds(30));
        return handler.stored.load();
    };

    SECTION("PixelMed") {
        const std::string jar = "/usr/share/java/pixelmed.jar";
        REQUIRE(std::filesystem::exists(jar));  // libpixelmed-java (scripts/install-deps.sh)
        for (const auto& f : files) {
            const auto r = testsupport::run({"java", "-cp", jar, "com.pixelmed.network.StorageSOPClassSCU", "127.0.0.1",
                                             port, "DEIDGW", "PIXELMED", f.path, "0", "0"},
                                            std::chrono::seconds(60));
            INFO(r.output);
            CHECK(r.exit_code == 0);
        }
        CHECK(wait_stored(3) == 3);
    }
    SECTION("GDCM") {
        // gdcmscu 3.0.21 (Debian 12) stores the file, then throws on release ("ProtocolStream as
        // nullptr is invalid", against DCMTK's storescp too): what counts is what the listener stored.
        for (const auto& f : files) {
            const auto r = testsupport::run({"gdcmscu", "--store", "--call", "DEIDGW", "--aetitle", "GDCMSCU", "127.0.0.1",
                                             port, "-i", f.path},
                                            std::chrono::seconds(60));
            INFO(r.output);
        }
        CHECK(wait_stored(3) == 3);
    }
    INFO(logs.all());
    CHECK(logs.all().find("accepted") != std::string::npos);
    scp.stop_accepting();
    CHECK(scp.wait_idle(std::chrono::seconds(10)));
}
