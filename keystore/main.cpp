// deid-keystore: the honest broker (serve) and its broker-side admin commands.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "config/Config.h"
#include "keystore/AdminCommands.h"
#include "keystore/BrokerServer.h"

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage =
    "usage: deid-keystore COMMAND [--config FILE] [options]\n"
    "\n"
    "commands:\n"
    "  serve                                   run the honest broker on its Unix socket\n"
    "  lookup --patient-id ID [--issuer I]     show a patient's pseudonym and date offset\n"
    "  lookup --pseudonym P                    show a pseudonym's offset (not the Patient ID)\n"
    "  reidentify --pseudonym P --reason TEXT  show the patient behind a pseudonym (audited)\n"
    "  reidentify --uid U --reason TEXT        show the original UID behind a new UID (audited)\n"
    "  import --csv FILE                       import pre-assigned pseudonyms, offsets and UIDs\n"
    "  export --csv FILE [--force]             write the whole map (file mode 0600; --force replaces FILE)\n"
    "  stats                                   counts\n"
    "  audit verify                            recompute the audit hash chain\n"
    "  audit list [--since T] [--until T] [--action OP] [--operator U] [--limit N]\n"
    "                                          show audit records (T: 2026-12-01T20:00Z or an age: 24h, 7d)\n"
    "  health [--wait SECONDS]                 ask the running broker on its socket whether it serves\n"
    "\n"
    "All commands use the keystore folder of the gateway config (--config FILE; default: embedded).\n"
    "Admin commands print aligned text, or JSON with --json. 'deid-keystore COMMAND --help' for details.\n";

struct Command {
    const char* name;
    const char* summary;
};

constexpr Command kCommands[] = {
    {"serve", "Run the honest broker: own the keystore database and secret key, answer forward questions on the "
              "Unix socket (keystore.socket, or <state_dir>/run/keystore.sock). Stops on SIGTERM/SIGINT."},
    {"lookup", "Show the mapping for --patient-id ID [--issuer I] (pseudonym, date offset, first seen), or for "
               "--pseudonym P (without the Patient ID). Recorded in the audit log."},
    {"reidentify", "Show the original behind --pseudonym P or --uid U. --reason TEXT is required and recorded in "
                   "the audit log."},
    {"import", "Import pre-assigned mappings from --csv FILE: sections headed 'patient_id,pseudonym[,date_offset_days]', "
               "'issuer,patient_id,pseudonym[,date_offset_days]' or 'original_uid,new_uid'. All or nothing; errors "
               "name line numbers."},
    {"export", "Write the whole map to --csv FILE (created with mode 0600), in the import format. An existing FILE "
               "is refused (exit 1) unless --force; the file appears whole or not at all."},
    {"stats", "Show the number of patients, UIDs and audit records."},
    {"audit", "'audit verify': recompute the audit hash chain; exit 1 naming the first bad record. 'audit list': "
              "show the records (oldest first) matching every filter given: --since/--until a UTC time "
              "(2026-12-01, 2026-12-01T20:00:05Z) or an age (90s, 30m, 24h, 7d), --action an operation (create, "
              "issue, lookup, reidentify, import, export, questions, alarm), --operator a Unix user, --limit the newest N."},
    {"health", "Ask the broker serving on keystore.socket (or <state_dir>/run/keystore.sock) for its health: exit "
               "0 when it answers, 1 when not. --wait SECONDS retries until it answers (for start-up ordering)."},
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
        std::cout << "deid-keystore " << config::version() << "\n";
        return 0;
    }
    const Command* known = nullptr;
    for (const Command& c : kCommands)
        if (command == c.name) known = &c;
    if (!known) {
        std::cerr << "deid-keystore: unknown command '" << command << "'\n\n" << kUsage;
        return 2;
    }

    po::options_description options(std::string("deid-keystore ") + known->name + ": " + known->summary +
                                    "\n\noptions");
    std::string config_path, patient_id, issuer, pseudonym, uid, reason, csv, socket_group;
    bool json = false, force = false;
    keystore::AuditFilter audit_filter;
    int wait_seconds = 0;
    std::vector<std::string> positional;
    options.add_options()("help,h", "show this help")("config", po::value(&config_path), "gateway config file (JSON)");
    if (command == "serve") {
        options.add_options()("socket-group", po::value(&socket_group),
                              "make the socket 0660 and owned by this group (the gateway's group)");
    } else {
        options.add_options()("json", po::bool_switch(&json), "print JSON instead of aligned text");
    }
    if (command == "lookup")
        options.add_options()("patient-id", po::value(&patient_id), "the original Patient ID")(
            "issuer", po::value(&issuer), "Issuer of Patient ID (default: keystore.default_issuer)")(
            "pseudonym", po::value(&pseudonym), "a pseudonym");
    if (command == "reidentify")
        options.add_options()("pseudonym", po::value(&pseudonym), "a pseudonym")("uid", po::value(&uid),
                                                                                  "a replacement UID")(
            "reason", po::value(&reason), "why (required, recorded in the audit log)");
    if (command == "import" || command == "export") options.add_options()("csv", po::value(&csv), "the CSV file");
    if (command == "export") options.add_options()("force", po::bool_switch(&force), "replace an existing FILE");
    if (command == "audit")
        options.add_options()("since", po::value(&audit_filter.since), "list: records at or after this UTC time or age")(
            "until", po::value(&audit_filter.until), "list: records before this UTC time or age")(
            "action", po::value(&audit_filter.operation), "list: only this operation")(
            "operator", po::value(&audit_filter.operator_name), "list: only records of this Unix user")(
            "limit", po::value(&audit_filter.limit), "list: only the newest N matching records");
    if (command == "health")
        options.add_options()("wait", po::value(&wait_seconds), "retry for up to SECONDS until the broker answers");
    po::options_description hidden;
    hidden.add_options()("args", po::value(&positional));
    po::options_description all;
    all.add(options).add(hidden);
    po::positional_options_description pos;
    pos.add("args", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc - 1, argv + 1).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "deid-keystore " << command << ": " << e.what() << "\n\n" << options;
        return 2;
    }
    if (vm.count("help")) {
        std::cout << options;
        return 0;
    }
    auto usage_error = [&](const std::string& message) {
        std::cerr << "deid-keystore " << command << ": " << message << "\n\n" << options;
        return 2;
    };
    const bool wants_positional = command == "audit";
    if (!positional.empty() && !wants_positional) return usage_error("unexpected argument(s)");

    config::Config config;
    if (!config::load_for_cli("deid-keystore", config_path, config)) return 2;
    if (!vm.count("issuer")) issuer = config.keystore.default_issuer;
    const keystore::AdminContext context{config, json, std::cout, std::cerr};

    if (command == "serve") {
        keystore::BrokerOptions broker_options;
        broker_options.socket_group = socket_group;
        return keystore::BrokerServer(config, broker_options).run();
    }
    if (command == "lookup") {
        if (vm.count("patient-id") == vm.count("pseudonym"))
            return usage_error("give exactly one of --patient-id or --pseudonym");
        if (vm.count("pseudonym")) return keystore::lookup_pseudonym(context, pseudonym);
        return keystore::lookup_patient(context, issuer, patient_id);
    }
    if (command == "reidentify") {
        if (vm.count("uid") == vm.count("pseudonym")) return usage_error("give exactly one of --pseudonym or --uid");
        if (reason.find_first_not_of(" \t\r\n") == std::string::npos)
            return usage_error("--reason TEXT is required and must not be empty");
        if (vm.count("uid")) return keystore::reidentify_uid(context, uid, reason);
        return keystore::reidentify_pseudonym(context, pseudonym, reason);
    }
    if (command == "import" || command == "export") {
        if (csv.empty()) return usage_error("--csv FILE is required");
        return command == "import" ? keystore::import_csv(context, csv) : keystore::export_csv(context, csv, force);
    }
    if (command == "stats") return keystore::show_stats(context);
    if (command == "audit") {
        if (positional == std::vector<std::string>{"list"}) {
            if (vm.count("limit") && audit_filter.limit < 1) return usage_error("--limit: expected a number >= 1");
            return keystore::audit_list(context, audit_filter);
        }
        if (positional != std::vector<std::string>{"verify"}) return usage_error("expected 'audit verify' or 'audit list'");
        if (!audit_filter.since.empty() || !audit_filter.until.empty() || !audit_filter.operation.empty() ||
            !audit_filter.operator_name.empty() || vm.count("limit"))
            return usage_error("the filters go with 'audit list'");
        return keystore::audit_verify(context);
    }
    if (command == "health") {
        if (wait_seconds < 0) return usage_error("--wait: expected a number of seconds >= 0");
        return keystore::broker_health(context, wait_seconds);
    }
    return 2;
}
