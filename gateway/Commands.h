// The subcommands of `deid-gateway`, one file each; main.cpp parses the command line.
// Each returns the process exit code: 0 success, 1 a failure at run time, 2 bad config or usage.
#pragma once

#include <string>
#include <vector>

#include "config/Config.h"

namespace gateway {

int run_serve(const config::Config& config);
int run_scrub(const config::Config& config, const std::string& out_dir, const std::vector<std::string>& inputs);
// For `quarantine list`: JSON instead of a table, only one reason and/or destination (empty = any).
struct QuarantineListOptions {
    bool json = false;
    std::string reason;
    std::string destination;
};
// args: "list" | "show ID" | "replay ID" | "replay --all" | "purge ID"
int run_quarantine(const config::Config& config, const std::vector<std::string>& args,
                   const QuarantineListOptions& list_options = {});
// What the status page shows, from the running gateway's HTTP endpoint (text, or JSON).
int run_status(const config::Config& config, bool as_json);

}  // namespace gateway
