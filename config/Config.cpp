#include "config/Config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <dcmtk/dcmdata/dctag.h>
#include <nlohmann/json.hpp>

namespace config {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Deep merge: objects merge key by key, anything else (arrays included) replaces.
void merge_into(json& base, const json& over) {
    for (auto it = over.begin(); it != over.end(); ++it) {
        if (base.contains(it.key()) && base[it.key()].is_object() && it.value().is_object())
            merge_into(base[it.key()], it.value());
        else
            base[it.key()] = it.value();
    }
}

std::string shown(const json& v) {
    std::string s = v.dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

// Walks one JSON document, records problems with their key paths.
class Reader {
public:
    std::vector<std::string> problems;

    void fail(const std::string& path, const std::string& expected, const json& got) {
        problems.push_back(path + ": expected " + expected + ", got " + shown(got));
    }

    // Reports keys of `obj` that are not in `known`.
    void only_keys(const json& obj, const std::string& path, std::initializer_list<const char*> known) {
        for (auto it = obj.begin(); it != obj.end(); ++it) {
            bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; });
            if (!ok)
                problems.push_back(join(path, it.key()) + ": unknown key (expected one of " +
                                   list(known) + ")");
        }
    }

    static std::string join(const std::string& path, const std::string& key) {
        return path.empty() ? key : path + "." + key;
    }

    static std::string list(std::initializer_list<const char*> known) {
        std::string s;
        for (const char* k : known) s += (s.empty() ? "" : ", ") + std::string(k);
        return s;
    }

    bool object(const json& v, const std::string& path) {
        if (v.is_object()) return true;
        fail(path, "an object", v);
        return false;
    }

    void string(const json& v, const std::string& path, std::string& out, bool non_empty = false) {
        if (!v.is_string() || (non_empty && v.get<std::string>().empty())) {
            fail(path, non_empty ? "a non-empty string" : "a string", v);
            return;
        }
        out = v.get<std::string>();
    }

    template <typename Int>
    void integer(const json& v, const std::string& path, Int& out, long long lo, long long hi) {
        if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi) {
            fail(path, "an integer " + std::to_string(lo) + ".." + std::to_string(hi), v);
            return;
        }
        out = static_cast<Int>(v.get<long long>());
    }

    void number(const json& v, const std::string& path, double& out, double lo, double hi) {
        if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
            fail(path, "a number " + shown(json(lo)) + ".." + shown(json(hi)), v);
            return;
        }
        out = v.get<double>();
    }

    // destinations[i].tls; the files themselves are checked when the gateway starts (dimse/Tls.h).
    DestinationTls destination_tls(const json& t, const std::string& p) {
        DestinationTls tls;
        if (!object(t, p)) return tls;
        only_keys(t, p, {"certificate", "private_key", "trusted_certificates", "verify_peer", "server_name"});
        if (t.contains("certificate")) string(t["certificate"], p + ".certificate", tls.certificate);
        if (t.contains("private_key")) string(t["private_key"], p + ".private_key", tls.private_key);
        if (t.contains("trusted_certificates"))
            string(t["trusted_certificates"], p + ".trusted_certificates", tls.trusted_certificates);
        if (t.contains("verify_peer")) boolean(t["verify_peer"], p + ".verify_peer", tls.verify_peer);
        if (t.contains("server_name")) string(t["server_name"], p + ".server_name", tls.server_name);
        if (tls.certificate.empty() != tls.private_key.empty())
            problems.push_back(p + ": expected both \"certificate\" and \"private_key\" (mutual authentication) or "
                                   "neither, got only " + (tls.certificate.empty() ? "private_key" : "certificate"));
        if (tls.verify_peer && tls.trusted_certificates.empty())
            problems.push_back(p + ".trusted_certificates: required while verify_peer is true (the CA certificates "
                                   "the destination's certificate must chain to), missing");
        return tls;
    }

    void unsigned_integer(const json& v, const std::string& path, std::uint64_t& out) {
        if (!v.is_number_unsigned()) {
            fail(path, "a non-negative integer (bytes)", v);
            return;
        }
        out = v.get<std::uint64_t>();
    }

    void boolean(const json& v, const std::string& path, bool& out) {
        if (!v.is_boolean()) {
            fail(path, "true or false", v);
            return;
        }
        out = v.get<bool>();
    }

    void strings(const json& v, const std::string& path, std::vector<std::string>& out) {
        if (!v.is_array()) {
            fail(path, "an array of strings", v);
            return;
        }
        out.clear();
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                fail(path + "[" + std::to_string(i) + "]", "a string", v[i]);
                continue;
            }
            out.push_back(v[i].get<std::string>());
        }
    }

    void one_of(const json& v, const std::string& path, std::string& out,
                std::initializer_list<const char*> allowed) {
        if (v.is_string()) {
            std::string s = v.get<std::string>();
            if (std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return s == a; })) {
                out = s;
                return;
            }
        }
        fail(path, "one of " + list(allowed), v);
    }

    void ae_title(const json& v, const std::string& path, std::string& out) {
        if (v.is_string()) {
            std::string s = v.get<std::string>();
            bool ok = !s.empty() && s.size() <= 16 &&
                      std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '\\'; }) &&
                      s.find_first_not_of(' ') != std::string::npos;
            if (ok) {
                out = s;
                return;
            }
        }
        fail(path, "an AE title (1..16 printable characters, no backslash)", v);
    }

    void match(const json& v, const std::string& path, Match& out,
               std::initializer_list<const char*> keys) {
        if (!object(v, path)) return;
        only_keys(v, path, keys);
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string p = join(path, it.key());
            if (it.key() == "calling_ae") strings(it.value(), p, out.calling_ae);
            if (it.key() == "modality") strings(it.value(), p, out.modality);
            if (it.key() == "sop_class") strings(it.value(), p, out.sop_class);
            if (it.key() == "manufacturer") strings(it.value(), p, out.manufacturer);
        }
    }
};

bool resolve_tag(const std::string& text, std::uint16_t& group, std::uint16_t& element) {
    unsigned g = 0, e = 0;
    char tail = 0;
    if (std::sscanf(text.c_str(), "(%4x,%4x)%c", &g, &e, &tail) == 2 && text.size() == 11) {
        group = static_cast<std::uint16_t>(g);
        element = static_cast<std::uint16_t>(e);
        return true;
    }
    DcmTag found;
    if (DcmTag::findTagFromName(text.c_str(), found).good()) {
        group = found.getGroup();
        element = found.getElement();
        return true;
    }
    return false;
}

std::string absolute_under(const std::string& base, const std::string& p) {
    fs::path path(p);
    if (path.is_relative()) path = fs::path(base) / path;
    return path.lexically_normal().string();
}

// obj[key], or null when it is not there (a const json's operator[] must not be asked for that).
const json& member(const json& obj, const char* key) {
    static const json null_value;
    const auto it = obj.find(key);
    return it == obj.end() ? null_value : *it;
}

bool valid_host(const std::string& host) {
    boost::system::error_code ec;
    if (host.find('/') == std::string::npos) boost::asio::ip::make_address(host, ec);
    else if (host.find(':') != std::string::npos) boost::asio::ip::make_network_v6(host, ec);
    else boost::asio::ip::make_network_v4(host, ec);
    return !ec;
}

void read_known_callers(Reader& r, const json& v, std::vector<KnownCaller>& out) {
    const std::string path = "listen.known_callers";
    if (!v.is_array()) {
        r.fail(path, "an array of objects", v);
        return;
    }
    out.clear();
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string p = path + "[" + std::to_string(i) + "]";
        if (!r.object(v[i], p)) continue;
        r.only_keys(v[i], p, {"ae_title", "host", "certificate_subject"});
        KnownCaller k;
        r.ae_title(member(v[i], "ae_title"), p + ".ae_title", k.ae_title);
        const json& host = member(v[i], "host");
        if (host.is_string() && valid_host(host.get<std::string>())) k.host = host.get<std::string>();
        else r.fail(p + ".host", "an IP address or a CIDR block (\"10.1.0.0/16\")", host);
        if (v[i].contains("certificate_subject"))
            r.string(v[i]["certificate_subject"], p + ".certificate_subject", k.certificate_subject, true);
        out.push_back(k);
    }
}

Config from_json(const json& doc, const std::string& base_dir) {
    Reader r;
    Config c;
    r.only_keys(doc, "", {"state_dir", "workers", "listen", "spool", "destinations", "retry",
                          "shutdown_timeout_seconds", "keystore", "profile", "pixels", "log", "http"});

    r.string(doc["state_dir"], "state_dir", c.state_dir, true);
    r.integer(doc["workers"], "workers", c.workers, 1, 256);
    r.integer(doc["shutdown_timeout_seconds"], "shutdown_timeout_seconds", c.shutdown_timeout_seconds, 0, 3600);

    if (const json& l = doc["listen"]; r.object(l, "listen")) {
        r.only_keys(l, "listen", {"ae_title", "port", "bind", "allowed_calling_ae", "known_callers",
                                  "max_associations", "acse_timeout_seconds", "dimse_timeout_seconds", "limits",
                                  "tls"});
        r.ae_title(l["ae_title"], "listen.ae_title", c.listen.ae_title);
        r.integer(l["port"], "listen.port", c.listen.port, 0, 65535);
        r.string(l["bind"], "listen.bind", c.listen.bind, true);
        r.strings(l["allowed_calling_ae"], "listen.allowed_calling_ae", c.listen.allowed_calling_ae);
        r.integer(l["max_associations"], "listen.max_associations", c.listen.max_associations, 1, 4096);
        r.integer(l["acse_timeout_seconds"], "listen.acse_timeout_seconds", c.listen.acse_timeout_seconds, 1, 3600);
        r.integer(l["dimse_timeout_seconds"], "listen.dimse_timeout_seconds", c.listen.dimse_timeout_seconds, 1, 3600);
        if (l.contains("known_callers")) read_known_callers(r, l["known_callers"], c.listen.known_callers);
        if (const json& lim = member(l, "limits"); l.contains("limits") && r.object(lim, "listen.limits")) {
            r.only_keys(lim, "listen.limits", {"connections_per_host", "associations_per_host",
                                               "associations_per_calling_ae", "first_pdu_timeout_seconds"});
            ListenLimits& x = c.listen.limits;
            if (lim.contains("connections_per_host"))
                r.integer(lim["connections_per_host"], "listen.limits.connections_per_host", x.connections_per_host, 1, 65536);
            if (lim.contains("associations_per_host"))
                r.integer(lim["associations_per_host"], "listen.limits.associations_per_host", x.associations_per_host, 1, 4096);
            if (lim.contains("associations_per_calling_ae"))
                r.integer(lim["associations_per_calling_ae"], "listen.limits.associations_per_calling_ae",
                          x.associations_per_calling_ae, 1, 4096);
            if (lim.contains("first_pdu_timeout_seconds"))
                r.integer(lim["first_pdu_timeout_seconds"], "listen.limits.first_pdu_timeout_seconds",
                          x.first_pdu_timeout_seconds, 1, 3600);
        }
        if (const json& t = member(l, "tls"); l.contains("tls") && r.object(t, "listen.tls")) {
            r.only_keys(t, "listen.tls", {"port", "certificate", "private_key", "trusted_certificates",
                                          "require_client_certificate", "min_version", "profile"});
            ListenTls& x = c.listen.tls;
            x.enabled = true;
            if (t.contains("port")) r.integer(t["port"], "listen.tls.port", x.port, 1, 65535);
            r.string(member(t, "certificate"), "listen.tls.certificate", x.certificate, true);
            r.string(member(t, "private_key"), "listen.tls.private_key", x.private_key, true);
            if (t.contains("trusted_certificates"))
                r.string(t["trusted_certificates"], "listen.tls.trusted_certificates", x.trusted_certificates, true);
            if (t.contains("require_client_certificate"))
                r.boolean(t["require_client_certificate"], "listen.tls.require_client_certificate",
                          x.require_client_certificate);
            if (t.contains("min_version")) r.one_of(t["min_version"], "listen.tls.min_version", x.min_version, {"1.2", "1.3"});
            if (t.contains("profile"))
                r.one_of(t["profile"], "listen.tls.profile", x.profile, {"BCP195", "BCP195-ND", "BCP195-extended"});
            if (x.require_client_certificate && x.trusted_certificates.empty())
                r.problems.push_back("listen.tls.trusted_certificates: required when listen.tls.require_client_certificate is true "
                                     "(the CA certificates client certificates are checked against)");
            if (x.min_version == "1.3" && x.profile == "BCP195-extended")
                r.problems.push_back("listen.tls.min_version: \"1.3\" cannot be used with profile BCP195-extended "
                                     "(PS3.15 B.11 is TLS 1.2 only)");
            if (x.port == c.listen.port)
                r.problems.push_back("listen.tls.port: must differ from listen.port (" + std::to_string(x.port) + ")");
        }
        if (c.listen.port == 0 && !c.listen.tls.enabled)
            r.problems.push_back("listen.port: 0 (no plain listener) needs listen.tls");
        for (const auto& k : c.listen.known_callers)
            if (!k.certificate_subject.empty() && !c.listen.tls.enabled) {
                r.problems.push_back("listen.known_callers: certificate_subject needs listen.tls (a plain caller has no certificate)");
                break;
            }
    }

    if (const json& s = doc["spool"]; r.object(s, "spool")) {
        r.only_keys(s, "spool", {"max_bytes", "min_free_bytes", "journal_bytes"});
        r.unsigned_integer(s["max_bytes"], "spool.max_bytes", c.spool.max_bytes);
        r.unsigned_integer(s["min_free_bytes"], "spool.min_free_bytes", c.spool.min_free_bytes);
        r.unsigned_integer(s["journal_bytes"], "spool.journal_bytes", c.spool.journal_bytes);
        // Four regions of at least 1 MiB each; the whole file is written at start-up.
        if (c.spool.journal_bytes != 0 &&
            (c.spool.journal_bytes < (4ull << 20) || c.spool.journal_bytes > (4ull << 30)))
            r.fail("spool.journal_bytes", "0 (no journal) or 4194304 to 4294967296 bytes", s["journal_bytes"]);
    }

    if (const json& rt = doc["retry"]; r.object(rt, "retry")) {
        r.only_keys(rt, "retry", {"base_ms", "cap_ms", "max_attempts"});
        r.integer(rt["base_ms"], "retry.base_ms", c.retry.base_ms, 1, 3600000);
        r.integer(rt["cap_ms"], "retry.cap_ms", c.retry.cap_ms, 1, 86400000);
        r.integer(rt["max_attempts"], "retry.max_attempts", c.retry.max_attempts, 1, 1000000);
        if (c.retry.cap_ms < c.retry.base_ms)
            r.fail("retry.cap_ms", "a value >= retry.base_ms (" + std::to_string(c.retry.base_ms) + ")", rt["cap_ms"]);
    }

    const json& ds = doc["destinations"];
    if (!ds.is_array()) {
        r.fail("destinations", "an array of destinations", ds);
    } else {
        for (std::size_t i = 0; i < ds.size(); ++i) {
            const std::string p = "destinations[" + std::to_string(i) + "]";
            const json& d = ds[i];
            if (!r.object(d, p)) continue;
            r.only_keys(d, p, {"name", "directory", "ae_title", "host", "port", "calling_ae_title",
                               "associations", "tls", "when"});
            Destination dest;
            if (d.contains("name")) r.string(d["name"], p + ".name", dest.name, true);
            else r.problems.push_back(p + ".name: expected a non-empty string, got nothing");
            const bool folder = d.contains("directory");
            const bool peer = d.contains("ae_title") || d.contains("host") || d.contains("port");
            if (folder == peer) {
                r.problems.push_back(p + ": expected either \"directory\" (a folder) or \"ae_title\", \"host\" "
                                     "and \"port\" (a DICOM peer), got " + (folder ? "both" : "neither"));
            } else if (folder) {
                r.string(d["directory"], p + ".directory", dest.directory, true);
                for (const char* k : {"calling_ae_title", "associations", "tls"})
                    if (d.contains(k)) r.problems.push_back(p + "." + k + ": only for a DICOM peer, not a folder");
            } else {
                for (const char* k : {"ae_title", "host", "port"})
                    if (!d.contains(k)) r.problems.push_back(p + "." + k + ": required for a DICOM peer, missing");
                if (d.contains("ae_title")) r.ae_title(d["ae_title"], p + ".ae_title", dest.ae_title);
                if (d.contains("host")) r.string(d["host"], p + ".host", dest.host, true);
                if (d.contains("port")) r.integer(d["port"], p + ".port", dest.port, 1, 65535);
                if (d.contains("calling_ae_title"))
                    r.ae_title(d["calling_ae_title"], p + ".calling_ae_title", dest.calling_ae_title);
                if (d.contains("associations"))
                    r.integer(d["associations"], p + ".associations", dest.associations, 1, 64);
                if (d.contains("tls")) dest.tls = r.destination_tls(d["tls"], p + ".tls");
            }
            if (d.contains("when"))
                r.match(d["when"], p + ".when", dest.when, {"calling_ae", "modality", "sop_class"});
            for (const Destination& other : c.destinations)
                if (!dest.name.empty() && other.name == dest.name)
                    r.problems.push_back(p + ".name: expected a unique name, got " + shown(d["name"]) + " twice");
            c.destinations.push_back(dest);
        }
    }

    if (const json& k = doc["keystore"]; r.object(k, "keystore")) {
        r.only_keys(k, "keystore", {"socket", "directory", "date_offset_min_days", "date_offset_max_days",
                                    "default_issuer", "database", "limits", "audit_interval_seconds", "alarm"});
        r.string(k["socket"], "keystore.socket", c.keystore.socket);
        r.string(k["directory"], "keystore.directory", c.keystore.directory, true);
        r.integer(k["date_offset_min_days"], "keystore.date_offset_min_days", c.keystore.date_offset_min_days, -36500, -1);
        r.integer(k["date_offset_max_days"], "keystore.date_offset_max_days", c.keystore.date_offset_max_days, -36500, -1);
        r.string(k["default_issuer"], "keystore.default_issuer", c.keystore.default_issuer);
        // keystore.database (issue 17): a PostgreSQL connection URI or empty. The value is never
        // shown in an error: it may carry a password.
        r.string(k["database"], "keystore.database", c.keystore.database);
        if (!c.keystore.database.empty() && c.keystore.database.rfind("postgresql://", 0) != 0 &&
            c.keystore.database.rfind("postgres://", 0) != 0)
            r.problems.push_back("keystore.database: expected empty (SQLite) or a postgresql:// connection URI");
        if (const json& lm = k["limits"]; r.object(lm, "keystore.limits")) {
            r.only_keys(lm, "keystore.limits", {"max_connections", "questions_per_second", "values_per_second",
                                                "max_frame_bytes", "frame_timeout_seconds", "idle_seconds"});
            auto& l = c.keystore.limits;
            r.integer(lm["max_connections"], "keystore.limits.max_connections", l.max_connections, 1, 4096);
            r.integer(lm["questions_per_second"], "keystore.limits.questions_per_second", l.questions_per_second, 1,
                      10000000);
            r.integer(lm["values_per_second"], "keystore.limits.values_per_second", l.values_per_second, 1, 100000000);
            r.integer(lm["max_frame_bytes"], "keystore.limits.max_frame_bytes", l.max_frame_bytes, 65536, 1048576);
            r.integer(lm["frame_timeout_seconds"], "keystore.limits.frame_timeout_seconds", l.frame_timeout_seconds, 1,
                      3600);
            r.integer(lm["idle_seconds"], "keystore.limits.idle_seconds", l.idle_seconds, 1, 86400);
        }
        r.integer(k["audit_interval_seconds"], "keystore.audit_interval_seconds", c.keystore.audit_interval_seconds, 1,
                  86400);
        if (const json& al = k["alarm"]; r.object(al, "keystore.alarm")) {
            r.only_keys(al, "keystore.alarm", {"new_patients_per_instance", "min_new_patients"});
            r.number(al["new_patients_per_instance"], "keystore.alarm.new_patients_per_instance",
                     c.keystore.alarm.new_patients_per_instance, 0.0, 1000.0);
            r.integer(al["min_new_patients"], "keystore.alarm.min_new_patients", c.keystore.alarm.min_new_patients, 1,
                      100000000);
        }
        if (c.keystore.date_offset_max_days < c.keystore.date_offset_min_days)
            r.fail("keystore.date_offset_max_days", "a value >= keystore.date_offset_min_days",
                   k["date_offset_max_days"]);
    }

    if (const json& pr = doc["profile"]; r.object(pr, "profile")) {
        r.only_keys(pr, "profile", {"options", "rules", "reject", "keep_ages_over_89"});
        if (pr.contains("keep_ages_over_89"))
            r.boolean(pr["keep_ages_over_89"], "profile.keep_ages_over_89", c.profile.keep_ages_over_89);
        const json& opts = pr["options"];
        r.strings(opts, "profile.options", c.profile.options);
        const auto& known = known_profile_options();
        for (std::size_t i = 0; i < c.profile.options.size(); ++i)
            if (std::find(known.begin(), known.end(), c.profile.options[i]) == known.end())
                r.fail("profile.options[" + std::to_string(i) + "]", "a PS3.15 option name (see docs/configuration.md)",
                       opts[i]);
        if (c.profile.has("retain_long_full_dates") && c.profile.has("retain_long_modified_dates"))
            r.problems.push_back("profile.options: expected at most one of retain_long_full_dates and "
                                 "retain_long_modified_dates, got both");

        const json& rules = pr["rules"];
        if (!rules.is_array()) r.fail("profile.rules", "an array of rules", rules);
        else for (std::size_t i = 0; i < rules.size(); ++i) {
            const std::string p = "profile.rules[" + std::to_string(i) + "]";
            const json& rj = rules[i];
            if (!r.object(rj, p)) continue;
            r.only_keys(rj, p, {"tag", "action", "value", "when"});
            Rule rule;
            if (!rj.contains("tag")) r.problems.push_back(p + ".tag: expected \"(gggg,eeee)\" or a keyword, missing");
            else if (!rj["tag"].is_string() || !resolve_tag(rj["tag"].get<std::string>(), rule.group, rule.element))
                r.fail(p + ".tag", "\"(gggg,eeee)\" or a DICOM keyword", rj["tag"]);
            else rule.tag = rj["tag"].get<std::string>();
            if (!rj.contains("action")) r.problems.push_back(p + ".action: expected keep, remove, empty, replace, hash or shift_date, missing");
            else r.one_of(rj["action"], p + ".action", rule.action, {"keep", "remove", "empty", "replace", "hash", "shift_date"});
            if (rule.action == "replace") {
                if (!rj.contains("value")) r.problems.push_back(p + ".value: required for action replace, missing");
                else r.string(rj["value"], p + ".value", rule.value);
            } else if (rj.contains("value")) {
                r.problems.push_back(p + ".value: only for action replace");
            }
            if (rj.contains("when"))
                r.match(rj["when"], p + ".when", rule.when, {"modality", "sop_class", "manufacturer"});
            c.profile.rules.push_back(rule);
        }

        const json& rejects = pr["reject"];
        if (!rejects.is_array()) r.fail("profile.reject", "an array of rejection rules", rejects);
        else for (std::size_t i = 0; i < rejects.size(); ++i) {
            const std::string p = "profile.reject[" + std::to_string(i) + "]";
            const json& rj = rejects[i];
            if (!r.object(rj, p)) continue;
            r.only_keys(rj, p, {"when", "reason"});
            Reject rej;
            if (!rj.contains("reason")) r.problems.push_back(p + ".reason: expected a non-empty string, missing");
            else r.string(rj["reason"], p + ".reason", rej.reason, true);
            if (!rj.contains("when")) r.problems.push_back(p + ".when: expected conditions, missing");
            else r.match(rj["when"], p + ".when", rej.when, {"calling_ae", "modality", "sop_class", "manufacturer"});
            if (rj.contains("when") && rej.when.empty() && rj["when"].is_object())
                r.problems.push_back(p + ".when: expected at least one condition, got none (would reject everything)");
            c.profile.reject.push_back(rej);
        }
    }

    if (const json& px = doc["pixels"]; r.object(px, "pixels")) {
        r.only_keys(px, "pixels", {"text_prone_modalities", "text_prone_sop_classes", "regions", "fill",
                                   "allow_words", "verify", "screen_all_images"});
        r.strings(px["text_prone_modalities"], "pixels.text_prone_modalities", c.pixels.text_prone_modalities);
        r.strings(px["text_prone_sop_classes"], "pixels.text_prone_sop_classes", c.pixels.text_prone_sop_classes);
        r.one_of(px["fill"], "pixels.fill", c.pixels.fill, {"background", "inpaint"});
        r.strings(px["allow_words"], "pixels.allow_words", c.pixels.allow_words);
        r.boolean(px["verify"], "pixels.verify", c.pixels.verify);
        r.boolean(px["screen_all_images"], "pixels.screen_all_images", c.pixels.screen_all_images);
        const json& regions = px["regions"];
        if (!regions.is_array()) r.fail("pixels.regions", "an array of region templates", regions);
        else for (std::size_t i = 0; i < regions.size(); ++i) {
            const std::string p = "pixels.regions[" + std::to_string(i) + "]";
            const json& rj = regions[i];
            if (!r.object(rj, p)) continue;
            r.only_keys(rj, p, {"manufacturer", "model", "rows", "columns", "rects"});
            Region reg;
            for (const char* k : {"manufacturer", "rows", "columns", "rects"})
                if (!rj.contains(k)) r.problems.push_back(p + "." + k + ": required, missing");
            if (rj.contains("manufacturer")) r.string(rj["manufacturer"], p + ".manufacturer", reg.manufacturer, true);
            if (rj.contains("model")) r.string(rj["model"], p + ".model", reg.model);
            if (rj.contains("rows")) r.integer(rj["rows"], p + ".rows", reg.rows, 1, 65535);
            if (rj.contains("columns")) r.integer(rj["columns"], p + ".columns", reg.columns, 1, 65535);
            if (rj.contains("rects")) {
                const json& rects = rj["rects"];
                if (!rects.is_array() || rects.empty()) r.fail(p + ".rects", "a non-empty array of [x, y, width, height]", rects);
                else for (std::size_t k = 0; k < rects.size(); ++k) {
                    const json& q = rects[k];
                    const std::string qp = p + ".rects[" + std::to_string(k) + "]";
                    bool ok = q.is_array() && q.size() == 4 &&
                              std::all_of(q.begin(), q.end(), [](const json& n) { return n.is_number_unsigned(); });
                    Region::Rect rect;
                    if (ok) {
                        rect = {q[0].get<int>(), q[1].get<int>(), q[2].get<int>(), q[3].get<int>()};
                        ok = rect.width > 0 && rect.height > 0 &&
                             (reg.columns == 0 || rect.x + rect.width <= reg.columns) &&
                             (reg.rows == 0 || rect.y + rect.height <= reg.rows);
                    }
                    if (!ok) r.fail(qp, "[x, y, width, height] inside rows x columns", q);
                    else reg.rects.push_back(rect);
                }
            }
            c.pixels.regions.push_back(reg);
        }
    }

    if (const json& lg = doc["log"]; r.object(lg, "log")) {
        r.only_keys(lg, "log", {"level", "format"});
        r.one_of(lg["level"], "log.level", c.log.level, {"debug", "info", "warning", "error"});
        r.one_of(lg["format"], "log.format", c.log.format, {"text", "json"});
    }

    // The HTTP endpoint (docs/monitoring.md).
    if (const json& h = doc["http"]; r.object(h, "http")) {
        r.only_keys(h, "http", {"bind", "port"});
        r.string(h["bind"], "http.bind", c.http.bind, true);
        r.integer(h["port"], "http.port", c.http.port, 0, 65535);
    }

    if (!r.problems.empty()) throw ConfigError(r.problems);

    const std::string base = base_dir.empty() ? fs::current_path().string() : base_dir;
    c.state_dir = absolute_under(base, c.state_dir);
    for (Destination& d : c.destinations) {
        if (d.is_folder()) d.directory = absolute_under(c.state_dir, d.directory);
        if (d.tls)  // TLS files: relative to the config file's folder
            for (std::string* f : {&d.tls->certificate, &d.tls->private_key, &d.tls->trusted_certificates})
                if (!f->empty()) *f = absolute_under(base, *f);
    }
    if (c.listen.tls.enabled) {  // TLS files: relative to the config file's folder, as destinations[].tls
        ListenTls& t = c.listen.tls;
        for (std::string* f : {&t.certificate, &t.private_key, &t.trusted_certificates})
            if (!f->empty()) *f = absolute_under(base, *f);
    }
    return c;
}

}  // namespace

bool Profile::has(const std::string& option) const {
    return std::find(options.begin(), options.end(), option) != options.end();
}

std::string Config::keystore_dir() const {
    return absolute_under(state_dir, keystore.directory);
}

std::string Config::broker_socket() const {
    return keystore.socket.empty() ? state_dir + "/run/keystore.sock" : keystore.socket;
}

static std::string join_problems(const std::vector<std::string>& problems) {
    std::string s;
    for (const auto& p : problems) s += (s.empty() ? "" : "\n") + p;
    return s;
}

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

const std::vector<std::string>& known_profile_options() {
    static const std::vector<std::string> names = {
        "retain_safe_private", "retain_uids", "retain_device_identity", "retain_institution_identity",
        "retain_patient_characteristics", "retain_long_full_dates", "retain_long_modified_dates",
        "clean_descriptors", "clean_structured_content", "clean_graphics", "clean_pixel_data",
        "clean_recognizable_visual_features"};
    return names;
}

Config parse(const std::string& json_text, const std::string& base_dir) {
    json user;
    try {
        user = json::parse(json_text);
    } catch (const json::parse_error& e) {
        // nlohmann's message carries line and column; it never echoes the file's values.
        throw ConfigError({std::string("(file): expected valid JSON: ") + e.what()});
    }
    if (!user.is_object()) throw ConfigError({"(top level): expected an object, got " + shown(user)});
    json doc = json::parse(default_json());
    merge_into(doc, user);
    return from_json(doc, base_dir);
}

Config load(const std::string& path) {
    if (path.empty()) return parse("{}");
    std::ifstream in(path);
    if (!in) throw ConfigError({"(file): cannot read " + path});
    std::stringstream text;
    text << in.rdbuf();
    Config c = parse(text.str());
    c.source_path = fs::absolute(path).lexically_normal().string();
    return c;
}

bool load_for_cli(const std::string& program, const std::string& path, Config& out) {
    try {
        out = load(path);
        return true;
    } catch (const ConfigError& e) {
        std::cerr << program << ": invalid config" << (path.empty() ? "" : " " + path) << ":\n";
        for (const auto& p : e.problems()) std::cerr << "  " << p << "\n";
        return false;
    }
}

std::string to_json(const Config& c) {
    auto match = [](const Match& m) {
        json j = json::object();
        if (!m.calling_ae.empty()) j["calling_ae"] = m.calling_ae;
        if (!m.modality.empty()) j["modality"] = m.modality;
        if (!m.sop_class.empty()) j["sop_class"] = m.sop_class;
        if (!m.manufacturer.empty()) j["manufacturer"] = m.manufacturer;
        return j;
    };
    json j;
    j["state_dir"] = c.state_dir;
    j["workers"] = c.workers;
    j["listen"] = {{"ae_title", c.listen.ae_title}, {"port", c.listen.port}, {"bind", c.listen.bind},
                   {"allowed_calling_ae", c.listen.allowed_calling_ae},
                   {"max_associations", c.listen.max_associations},
                   {"acse_timeout_seconds", c.listen.acse_timeout_seconds},
                   {"dimse_timeout_seconds", c.listen.dimse_timeout_seconds},
                   {"limits", {{"connections_per_host", c.listen.limits.connections_per_host},
                               {"associations_per_host", c.listen.limits.associations_per_host},
                               {"associations_per_calling_ae", c.listen.limits.associations_per_calling_ae},
                               {"first_pdu_timeout_seconds", c.listen.limits.first_pdu_timeout_seconds}}}};
    j["listen"]["known_callers"] = json::array();
    for (const KnownCaller& k : c.listen.known_callers) {
        json kj = {{"ae_title", k.ae_title}, {"host", k.host}};
        if (!k.certificate_subject.empty()) kj["certificate_subject"] = k.certificate_subject;
        j["listen"]["known_callers"].push_back(kj);
    }
    if (c.listen.tls.enabled) {
        const ListenTls& t = c.listen.tls;
        j["listen"]["tls"] = {{"port", t.port}, {"certificate", t.certificate}, {"private_key", t.private_key},
                              {"trusted_certificates", t.trusted_certificates},
                              {"require_client_certificate", t.require_client_certificate},
                              {"min_version", t.min_version}, {"profile", t.profile}};
    }
    j["spool"] = {{"max_bytes", c.spool.max_bytes}, {"min_free_bytes", c.spool.min_free_bytes},
                  {"journal_bytes", c.spool.journal_bytes}};
    j["destinations"] = json::array();
    for (const Destination& d : c.destinations) {
        json dj = {{"name", d.name}};
        if (d.is_folder()) {
            dj["directory"] = d.directory;
        } else {
            dj["ae_title"] = d.ae_title;
            dj["host"] = d.host;
            dj["port"] = d.port;
            dj["calling_ae_title"] = d.calling_ae_title.empty() ? c.listen.ae_title : d.calling_ae_title;
            dj["associations"] = d.associations;
            if (d.tls)
                dj["tls"] = {{"certificate", d.tls->certificate},
                             {"private_key", d.tls->private_key},
                             {"trusted_certificates", d.tls->trusted_certificates},
                             {"verify_peer", d.tls->verify_peer},
                             {"server_name", d.tls->server_name}};
        }
        dj["when"] = match(d.when);
        j["destinations"].push_back(dj);
    }
    j["retry"] = {{"base_ms", c.retry.base_ms}, {"cap_ms", c.retry.cap_ms}, {"max_attempts", c.retry.max_attempts}};
    j["shutdown_timeout_seconds"] = c.shutdown_timeout_seconds;
    j["keystore"] = {{"socket", c.keystore.socket}, {"directory", c.keystore.directory},
                     {"date_offset_min_days", c.keystore.date_offset_min_days},
                     {"date_offset_max_days", c.keystore.date_offset_max_days},
                     {"default_issuer", c.keystore.default_issuer},
                     {"database", c.keystore.database},
                     {"limits",
                      {{"max_connections", c.keystore.limits.max_connections},
                       {"questions_per_second", c.keystore.limits.questions_per_second},
                       {"values_per_second", c.keystore.limits.values_per_second},
                       {"max_frame_bytes", c.keystore.limits.max_frame_bytes},
                       {"frame_timeout_seconds", c.keystore.limits.frame_timeout_seconds},
                       {"idle_seconds", c.keystore.limits.idle_seconds}}},
                     {"audit_interval_seconds", c.keystore.audit_interval_seconds},
                     {"alarm",
                      {{"new_patients_per_instance", c.keystore.alarm.new_patients_per_instance},
                       {"min_new_patients", c.keystore.alarm.min_new_patients}}}};
    json rules = json::array();
    for (const Rule& r : c.profile.rules) {
        json rj = {{"tag", r.tag}, {"action", r.action}};
        if (r.action == "replace") rj["value"] = r.value;
        if (!r.when.empty()) rj["when"] = match(r.when);
        rules.push_back(rj);
    }
    json rejects = json::array();
    for (const Reject& r : c.profile.reject) rejects.push_back({{"when", match(r.when)}, {"reason", r.reason}});
    j["profile"] = {{"options", c.profile.options}, {"rules", rules}, {"reject", rejects},
                    {"keep_ages_over_89", c.profile.keep_ages_over_89}};
    json regions = json::array();
    for (const Region& r : c.pixels.regions) {
        json rects = json::array();
        for (const auto& q : r.rects) rects.push_back({q.x, q.y, q.width, q.height});
        regions.push_back({{"manufacturer", r.manufacturer}, {"model", r.model}, {"rows", r.rows},
                           {"columns", r.columns}, {"rects", rects}});
    }
    j["pixels"] = {{"text_prone_modalities", c.pixels.text_prone_modalities},
                   {"text_prone_sop_classes", c.pixels.text_prone_sop_classes},
                   {"regions", regions}, {"fill", c.pixels.fill},
                   {"allow_words", c.pixels.allow_words}, {"verify", c.pixels.verify},
                   {"screen_all_images", c.pixels.screen_all_images}};
    j["log"] = {{"level", c.log.level}, {"format", c.log.format}};
    j["http"] = {{"bind", c.http.bind}, {"port", c.http.port}};
    return j.dump(2);
}

}  // namespace config
