// deid-test-echo-flood HOST PORT CALLING CALLED ASSOCIATIONS INTERVAL_SECONDS DURATION_SECONDS
// A hostile client for tests: opens up to ASSOCIATIONS Verification associations and keeps them
// alive with one C-ECHO each every INTERVAL_SECONDS (the "64 associations sending a C-ECHO every
// 50 s" attack), for DURATION_SECONDS. Prints "opened N refused M" once all requests are answered,
// then "echoes OK" with the count at the end. Run under source_address_shim to come from 127.0.0.2.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: %s HOST PORT CALLING CALLED ASSOCIATIONS INTERVAL DURATION\n", argv[0]);
        return 2;
    }
    const std::string peer = std::string(argv[1]) + ":" + argv[2];
    const int count = std::atoi(argv[5]), interval = std::atoi(argv[6]), duration = std::atoi(argv[7]);
    T_ASC_Network* net = nullptr;
    if (ASC_initializeNetwork(NET_REQUESTOR, 0, 10, &net).bad()) return 1;
    std::vector<T_ASC_Association*> open;
    int refused = 0;
    for (int i = 0; i < count; ++i) {
        T_ASC_Parameters* params = nullptr;
        ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
        ASC_setAPTitles(params, argv[3], argv[4], nullptr);
        ASC_setPresentationAddresses(params, "localhost", peer.c_str());
        const char* ts[] = {UID_LittleEndianImplicitTransferSyntax};
        ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, ts, 1);
        T_ASC_Association* assoc = nullptr;
        if (ASC_requestAssociation(net, params, &assoc).good()) {
            open.push_back(assoc);
        } else {
            ++refused;
            ASC_destroyAssociation(&assoc);
        }
    }
    std::printf("opened %zu refused %d\n", open.size(), refused);
    std::fflush(stdout);
    long ok = 0;
    DIC_US message_id = 1;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(duration);
    while (std::chrono::steady_clock::now() < end) {
        for (T_ASC_Association* assoc : open) {
            DIC_US status = 0;
            DcmDataset* detail = nullptr;
            if (DIMSE_echoUser(assoc, message_id++, DIMSE_BLOCKING, 0, &status, &detail).good() && status == 0) ++ok;
            delete detail;
        }
        std::this_thread::sleep_for(std::chrono::seconds(interval));
    }
    std::printf("echoes OK %ld\n", ok);
    std::fflush(stdout);
    for (T_ASC_Association* assoc : open) {
        ASC_releaseAssociation(assoc);
        ASC_destroyAssociation(&assoc);
    }
    ASC_dropNetwork(&net);
    return 0;
}
