// The gateway side of the honest-broker boundary, as a process of its own: starts the broker child
// with BrokerProcess, resolves through BrokerClient, prints "READY <pseudonym>" and waits for
// SIGTERM/SIGINT, then stops the broker. Links keystore_client only (no SQLite, no key file code).
#include <signal.h>

#include <iostream>

#include "config/Config.h"
#include "keystore/BrokerClient.h"
#include "keystore/BrokerProcess.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: keystore-gateway-probe CONFIG\n";
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    try {
        const config::Config config = config::load(argv[1]);
        keystore::BrokerProcess broker(config);
        keystore::BrokerClient client(broker.socket_path());
        deid::PseudonymRequest request;
        request.issuer = "PROBE";
        request.patient_id = "PROBE-PATIENT";
        request.uids = {"1.2.3.4.5"};
        request.instance_uid = "1.2.3.4.5";
        const deid::PseudonymReply reply = client.resolve(request);
        std::cout << "READY " << reply.pseudonym << std::endl;
        int sig = 0;
        sigwait(&set, &sig);
        std::cout << "STOPPING" << std::endl;
    } catch (const std::exception& e) {
        std::cout << "FAILED " << e.what() << std::endl;
        return 1;
    }
    return 0;
}
