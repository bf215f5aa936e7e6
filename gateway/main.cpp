// deid-gateway: the service (serve) and the offline tool (scrub), plus config and quarantine admin.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "config/Config.h"
#include "gateway/Commands.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: deid-gateway COMMAND [--config FILE] [options]\n"
    "\n"
    "commands:\n"
    "  serve          receive over DIMSE, de-identify, forward (runs in the foreground)\n"
    "  scrub          de-identify files and folders: scrub --out DIR INPUT...\n"
    "  check-config   validate the config file and exit (0 valid, 2 invalid)\n"
    "  print-config   print the effective config, defaults filled in\n"
    "  quarantine     list [--json] [--reason R] [--destination D] | show ID | replay ID | replay --all | purge ID\n"
    "  status         what the running gateway's status page shows (--json for JSON)\n"
    "\n"
    "Without --config the embedded default (config/default.json) is used.\n"
    "Run 'deid-gateway COMMAND --help' for a command's options.\n";

struct Command {
    const char* name;
    const char* summary;
};

constexpr Command kCommands[] = {
    {"serve", "Receive instances over DIMSE C-STORE, de-identify them and forward them to the destinations."},
    {"scrub", "De-identify DICOM files and folders (recursively) into --out DIR, one file per instance."},
    {"check-config", "Validate the config file: exit 0 when valid, 2 with every problem listed when not."},
    {"print-config", "Print the effective config as JSON, with every default filled in."},
    {"quarantine", "Inspect the quarantine: list | show ID | replay ID | replay --all | purge ID."},
    {"status", "Print what the running gateway's status page shows, read from its HTTP endpoint (http.bind, http.port)."},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const std::string command = argv[1];
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << kUsage;
        return 0;
    }
    if (command == "--version") {
        std::cout << "deid-gateway " << config::version() << "\n";
        return 0;
    }
    const Command* known = nullptr;
    for (const Command& c : kCommands)
        if (command == c.name) known = &c;
    if (!known) {
        std::cerr << "deid-gateway: unknown command '" << command << "'\n\n" << kUsage;
        return 2;
    }

    po::options_description options(std::string("deid-gateway ") + known->name + ": " + known->summary +
                                    "\n\noptions");
    std::string config_path, out_dir;
    bool all = false, as_json = false;
    options.add_options()
        ("help,h", "show this help")
        ("version", "show the version")
        ("config,c", po::value(&config_path), "config file (JSON); default: the embedded config/default.json");
    if (command == "scrub") options.add_options()("out,o", po::value(&out_dir), "output folder (created if missing)");
    gateway::QuarantineListOptions list_options;
    if (command == "quarantine")
        options.add_options()("all", po::bool_switch(&all), "with replay: every quarantined instance")
            ("json", po::bool_switch(&list_options.json), "with list: print JSON (one object per instance)")
            ("reason", po::value(&list_options.reason), "with list: only this reason (e.g. malformed)")
            ("destination", po::value(&list_options.destination), "with list: only this destination");
    if (command == "status") options.add_options()("json", po::bool_switch(&as_json), "print the status as JSON");
    po::options_description hidden;
    hidden.add_options()("args", po::value<std::vector<std::string>>()->composing(), "positional");
    po::options_description everything;
    everything.add(options).add(hidden);
    po::positional_options_description positional;
    positional.add("args", -1);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc - 1, argv + 1).options(everything).positional(positional).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "deid-gateway " << command << ": " << e.what() << "\n\n" << options;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << options;
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "deid-gateway " << config::version() << "\n";
        return 0;
    }
    std::vector<std::string> args = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : std::vector<std::string>{};
    if (command != "scrub" && command != "quarantine" && !args.empty()) {
        std::cerr << "deid-gateway " << command << ": unexpected argument '" << args.front() << "'\n";
        return 2;
    }

    config::Config cfg;
    if (!config::load_for_cli("deid-gateway", config_path, cfg)) return 2;

    if (command == "check-config") {
        std::cout << "config OK" << (config_path.empty() ? " (embedded default)" : ": " + config_path) << "\n";
        return 0;
    }
    if (command == "print-config") {
        std::cout << config::to_json(cfg) << "\n";
        return 0;
    }
    if (command == "serve") return gateway::run_serve(cfg);
    if (command == "status") return gateway::run_status(cfg, as_json);
    if (command == "scrub") {
        if (out_dir.empty() || args.empty()) {
            std::cerr << "deid-gateway scrub: expected --out DIR and at least one INPUT\n\n" << options;
            return 2;
        }
        return gateway::run_scrub(cfg, out_dir, args);
    }
    if (all) args.push_back("--all");
    if (args.empty()) {
        std::cerr << "deid-gateway quarantine: expected list | show ID | replay ID | replay --all | purge ID\n";
        return 2;
    }
    if ((list_options.json || !list_options.reason.empty() || !list_options.destination.empty()) &&
        args.front() != "list") {
        std::cerr << "deid-gateway quarantine: --json, --reason and --destination go with list\n";
        return 2;
    }
    return gateway::run_quarantine(cfg, args, list_options);
}
