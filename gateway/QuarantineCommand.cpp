// deid-gateway quarantine list [--json] [--reason R] [--destination D] | show ID | replay ID |
// replay --all | purge ID
#include <iomanip>
#include <iostream>

#include <nlohmann/json.hpp>

#include "gateway/Commands.h"
#include "spool/Spool.h"

namespace gateway {

namespace {

void print_row(const spool::QuarantineRecord& r) {
    std::cout << std::left << std::setw(32) << r.id << std::setw(26) << r.reason << std::setw(11) << spool::stage_name(r.stage)
              << std::setw(14) << (r.destination.empty() ? "-" : r.destination) << std::setw(22) << r.quarantined_at
              << r.detail << "\n";
}

}  // namespace

int run_quarantine(const config::Config& cfg, const std::vector<std::string>& args,
                   const QuarantineListOptions& list_options) {
    spool::Spool spool(cfg.spool_dir(), cfg.spool);
    const std::string& verb = args.front();
    auto usage = [] {
        std::cerr << "deid-gateway quarantine: expected list | show ID | replay ID | replay --all | purge ID\n";
        return 2;
    };
    if (verb == "list") {
        if (args.size() != 1) return usage();
        std::vector<spool::QuarantineRecord> records;
        for (auto& r : spool.quarantined())
            if ((list_options.reason.empty() || r.reason == list_options.reason) &&
                (list_options.destination.empty() || r.destination == list_options.destination))
                records.push_back(std::move(r));
        if (list_options.json) {
            // The reason.json fields (no PHI), one object per instance.
            nlohmann::json out = nlohmann::json::array();
            for (const auto& r : records)
                out.push_back({{"id", r.id}, {"reason", r.reason}, {"detail", r.detail}, {"stage", spool::stage_name(r.stage)},
                               {"destination", r.destination}, {"calling_ae", r.calling_ae},
                               {"quarantined_at", r.quarantined_at}, {"attempts", r.attempts}});
            std::cout << out.dump(2) << "\n";
            return 0;
        }
        std::cout << std::left << std::setw(32) << "ID" << std::setw(26) << "REASON" << std::setw(11) << "STAGE"
                  << std::setw(14) << "DESTINATION" << std::setw(22) << "SINCE" << "DETAIL\n";
        for (const auto& r : records) print_row(r);
        std::cout << records.size() << " quarantined\n";
        return 0;
    }
    if (verb == "replay" && args.size() == 2 && args[1] == "--all") {
        int failed = 0, done = 0;
        for (const auto& r : spool.quarantined()) {
            if (const auto ec = spool.replay(r)) {
                std::cerr << "cannot replay " << r.id << ": " << ec.message() << "\n";
                ++failed;
            } else {
                ++done;
            }
        }
        std::cout << "replayed " << done << " instances" << (failed ? ", " + std::to_string(failed) + " failed" : "")
                  << "\n";
        return failed ? 1 : 0;
    }
    if ((verb == "show" || verb == "replay" || verb == "purge") && args.size() == 2) {
        // An instance that failed on several destinations has one record for each.
        const auto records = spool.find_quarantined(args[1]);
        if (records.empty()) {
            std::cerr << "deid-gateway quarantine: no quarantined instance with id " << args[1] << "\n";
            return 1;
        }
        int failed = 0;
        for (const auto& record : records) {
            if (verb == "show") {
                std::cout << "id:          " << record.id << "\n"
                          << "reason:      " << record.reason << "\n"
                          << "detail:      " << record.detail << "\n"
                          << "stage:       " << spool::stage_name(record.stage) << "\n"
                          << "destination: " << (record.destination.empty() ? "-" : record.destination) << "\n"
                          << "calling AE:  " << record.calling_ae << "\n"
                          << "since:       " << record.quarantined_at << "\n"
                          << "attempts:    " << record.attempts << "\n"
                          << "file:        " << record.folder << "/instance.dcm\n";
                continue;
            }
            if (verb == "purge") {
                if (const auto ec = spool.purge(record)) {
                    std::cerr << "cannot purge " << record.id << ": " << ec.message() << "\n";
                    ++failed;
                } else {
                    std::cout << "purged " << record.id << "\n";
                }
                continue;
            }
            if (const auto ec = spool.replay(record)) {
                std::cerr << "cannot replay " << record.id << ": " << ec.message() << "\n";
                ++failed;
                continue;
            }
            std::cout << "replayed " << record.id << " into "
                      << (record.stage == spool::Stage::forward ? "outgoing/" + record.destination
                                                                : std::string("incoming"))
                      << "\n";
        }
        return failed ? 1 : 0;
    }
    return usage();
}

}  // namespace gateway
