// The gateway's configuration: one JSON file, every key optional, validated strictly.
// Keys and defaults are documented in docs/configuration.md.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace config {

// Conditions on an instance; an empty list matches anything.
struct Match {
    std::vector<std::string> calling_ae;
    std::vector<std::string> modality;
    std::vector<std::string> sop_class;     // SOP Class UIDs
    std::vector<std::string> manufacturer;  // case-insensitive substring
    bool empty() const {
        return calling_ae.empty() && modality.empty() && sop_class.empty() && manufacturer.empty();
    }
};

// listen.known_callers[]: a calling AE title, the host (address or CIDR block) it must come from,
// and optionally the subject of its TLS client certificate (RFC 2253 one-line form).
struct KnownCaller {
    std::string ae_title;
    std::string host;
    std::string certificate_subject;  // empty = not checked
};

// listen.limits: per calling host and calling AE (docs/security.md).
struct ListenLimits {
    int connections_per_host = 40;
    int associations_per_host = 32;
    int associations_per_calling_ae = 32;
    int first_pdu_timeout_seconds = 10;
};

// listen.tls: the TLS listener (PS3.15 Annex B secure transport connection profiles).
struct ListenTls {
    bool enabled = false;            // true when listen.tls is given
    int port = 2762;                 // the port IANA registered for DICOM over TLS
    std::string certificate;         // PEM files; absolute after load (relative ones: under state_dir)
    std::string private_key;
    std::string trusted_certificates;  // a PEM file or a folder of them (client certificates' CAs)
    bool require_client_certificate = true;
    std::string min_version = "1.2";     // "1.2" | "1.3"
    std::string profile = "BCP195";      // "BCP195" | "BCP195-ND" | "BCP195-extended"
};

struct Listen {
    std::string ae_title = "DEIDGW";
    int port = 11112;  // 0 = no plain listener (TLS only)
    std::string bind = "127.0.0.1";
    std::vector<std::string> allowed_calling_ae;  // empty = anyone
    std::vector<KnownCaller> known_callers;       // empty = anyone
    int max_associations = 64;
    int acse_timeout_seconds = 30;
    int dimse_timeout_seconds = 60;
    ListenLimits limits;
    ListenTls tls;
};

// destinations[].tls: DICOM TLS to a peer (docs/security.md, "TLS to destinations"). Kept free of
// dimse/ types; forward/DicomSender turns it into dimse::TlsSettings.
struct DestinationTls {
    std::string certificate;           // PEM; the client certificate (mutual authentication); may be empty
    std::string private_key;           // PEM; with certificate
    std::string trusted_certificates;  // PEM file or folder: the CAs the peer's certificate must chain to
    bool verify_peer = true;           // verify the peer's certificate (and server_name)
    std::string server_name;           // SNI and the name the peer's certificate must carry; empty = host
};

struct Destination {
    std::string name;
    // A folder destination has `directory`; a DICOM peer has ae_title/host/port.
    std::string directory;  // absolute after load (relative ones resolve against state_dir)
    std::string ae_title;
    std::string host;
    int port = 0;
    std::string calling_ae_title;  // empty = listen.ae_title
    int associations = 4;
    std::optional<DestinationTls> tls;  // DICOM peers only; empty = plain TCP
    Match when;
    bool is_folder() const { return !directory.empty(); }
};

struct Retry {
    int base_ms = 1000;
    int cap_ms = 300000;
    int max_attempts = 20;
};

struct Spool {
    std::uint64_t max_bytes = 20ull * 1024 * 1024 * 1024;  // incoming + outgoing
    std::uint64_t min_free_bytes = 256ull * 1024 * 1024;   // refuse (A700) below this
    // The reception journal's size on disk (docs/operations.md, Durability 1); 0: no journal, every
    // reception is made durable by its own file's fdatasync and a folder fsync.
    std::uint64_t journal_bytes = 32ull * 1024 * 1024;
};

struct Keystore {
    std::string socket;  // empty = start an own broker under state_dir
    std::string directory = "keystore";  // relative to state_dir; holds the database and key
    int date_offset_min_days = -365;
    int date_offset_max_days = -1;
    std::string default_issuer;  // used when Issuer of Patient ID is absent
    // keystore.database: a libpq connection URI (postgresql://user@host:port/db) for a map shared by
    // several brokers; empty = the SQLite file keystore.db under keystore.directory.
    std::string database;
    // keystore.limits: what one broker connection may ask (docs/keystore.md, "Limits"). A gateway
    // at full speed asks about one question per instance over a few connections.
    struct Limits {
        int max_connections = 64;            // open broker connections; more are closed at once
        int questions_per_second = 2000;     // per connection; faster questions wait (not refused)
        int values_per_second = 20000;       // per connection: UIDs + hashes asked
        int max_frame_bytes = 262144;        // one request frame; larger closes the connection
        int frame_timeout_seconds = 10;      // a partial frame not completed by then closes it
        int idle_seconds = 60;               // no complete request for this long closes a connection
    } limits;
    int audit_interval_seconds = 60;  // one "questions" audit record per interval with counts
    // keystore.alarm: new patients asked for much faster than instances arrive.
    struct Alarm {
        double new_patients_per_instance = 0.5;  // alarm above this ratio in an interval...
        int min_new_patients = 100;              // ...with at least this many new patients
    } alarm;
};

// One site rule: what to do with one attribute, optionally only where `when` matches.
struct Rule {
    std::string tag;     // "(gggg,eeee)" or a DICOM keyword, as written in the file
    std::uint16_t group = 0, element = 0;  // resolved
    std::string action;  // keep | remove | empty | replace | hash | shift_date
    std::string value;   // for replace
    Match when;
};

struct Reject {
    Match when;
    std::string reason;
};

struct Profile {
    std::vector<std::string> options;
    std::vector<Rule> rules;
    std::vector<Reject> reject;
    // Ages over 89 (Patient's Age and other AS values) are written as 090Y unless this is true
    // (HIPAA Safe Harbor aggregates them to "90 or older").
    bool keep_ages_over_89 = false;
    bool has(const std::string& option) const;
};

struct Region {
    std::string manufacturer;  // case-insensitive exact match
    std::string model;         // case-insensitive exact match; empty = any
    int rows = 0, columns = 0;
    struct Rect { int x = 0, y = 0, width = 0, height = 0; };
    std::vector<Rect> rects;
};

struct Pixels {
    std::vector<std::string> text_prone_modalities = {"US", "XA", "RF", "ES", "XC", "OT", "SC", "DOC"};
    std::vector<std::string> text_prone_sop_classes;  // defaults filled in by the loader
    std::vector<Region> regions;
    std::string fill = "background";  // background | inpaint
    std::vector<std::string> allow_words;  // OCR words that may stay; empty by default
    bool verify = true;
    bool screen_all_images = true;  // every other image: cheap text screen, OCR-confirmed cleaning
};

struct Log {
    std::string level = "info";  // debug | info | warning | error
    std::string format = "text";  // text | json (one object per line)
};

// The HTTP endpoint (docs/monitoring.md): /metrics, /healthz, /readyz and the status page.
struct Http {
    std::string bind = "127.0.0.1";
    int port = 11180;  // 0 = off
};

struct Config {
    std::string state_dir = "var";  // absolute after load
    int workers = 2;
    Listen listen;
    Spool spool;
    std::vector<Destination> destinations;
    Retry retry;
    int shutdown_timeout_seconds = 30;
    Keystore keystore;
    Profile profile;
    Pixels pixels;
    Log log;
    Http http;
    std::string source_path;  // the file this was loaded from (absolute); empty = embedded default

    // Derived paths under state_dir.
    std::string spool_dir() const { return state_dir + "/spool"; }
    std::string keystore_dir() const;
    std::string broker_socket() const;  // keystore.socket, or the own broker's socket
};

// All problems found in one file, each "key.path: expected ..., got ...".
class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return problems_; }
private:
    std::vector<std::string> problems_;
};

// The embedded config/default.json.
const std::string& default_json();

// Loads `path` over the defaults (empty path = defaults only). Throws ConfigError.
Config load(const std::string& path);
// Same, from JSON text; `base_dir` resolves a relative state_dir (default: the working directory).
Config parse(const std::string& json_text, const std::string& base_dir = "");

// For the command-line tools: load(path); on problems print each under "<program>: invalid config"
// to stderr and return false (the caller exits with 2).
bool load_for_cli(const std::string& program, const std::string& path, Config& out);

// The effective config as JSON, defaults filled in.
std::string to_json(const Config& c);

// The PS3.15 option names this build knows, in the config's snake_case.
const std::vector<std::string>& known_profile_options();

// Version string of the project.
const char* version();

}  // namespace config
