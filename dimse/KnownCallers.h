// Who may open an association: known callers as pairs of calling AE title and host (an address or
// a CIDR block), optionally bound to the subject of the caller's TLS client certificate, as
// Orthanc's DicomModalities pair an AE with its host. Pure decisions, no sockets.
#pragma once

#include <string>
#include <vector>

namespace dimse {

struct KnownCaller {
    std::string ae_title;
    std::string host;                 // "10.1.2.3", "10.1.0.0/16", "::1", "fd00::/8"
    std::string certificate_subject;  // empty = any (or no) certificate; else RFC 2253 one-line form
};

// True when `host` is an IPv4/IPv6 address or a CIDR block (what KnownCaller::host accepts).
bool valid_host_pattern(const std::string& host);
// True when `address` (numeric, as accepted) is `pattern` or inside it.
bool host_matches(const std::string& pattern, const std::string& address);

enum class CallerCheck {
    allowed,
    unknown_ae,          // no entry has this calling AE title
    host_not_allowed,    // entries have the AE title, none of them this address
    certificate_not_allowed,  // the AE and host match, the certificate subject does not
};
const char* describe(CallerCheck check);  // for log lines

// An empty list allows everyone (allowed_calling_ae still applies on its own).
CallerCheck check_caller(const std::vector<KnownCaller>& known, const std::string& calling_ae,
                         const std::string& address, const std::string& certificate_subject);

}  // namespace dimse
