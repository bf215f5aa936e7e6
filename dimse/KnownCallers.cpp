#include "dimse/KnownCallers.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

namespace dimse {

namespace ip = boost::asio::ip;

namespace {
bool is_cidr(const std::string& s) { return s.find('/') != std::string::npos; }
}  // namespace

bool valid_host_pattern(const std::string& host) {
    boost::system::error_code ec;
    if (!is_cidr(host)) {
        ip::make_address(host, ec);
        return !ec;
    }
    if (host.find(':') != std::string::npos) ip::make_network_v6(host, ec);
    else ip::make_network_v4(host, ec);
    return !ec;
}

bool host_matches(const std::string& pattern, const std::string& address) {
    boost::system::error_code ec;
    ip::address peer = ip::make_address(address, ec);
    if (ec) return false;
    if (peer.is_v6() && peer.to_v6().is_v4_mapped()) peer = ip::make_address_v4(ip::v4_mapped, peer.to_v6());
    if (!is_cidr(pattern)) {
        const ip::address want = ip::make_address(pattern, ec);
        return !ec && want == peer;
    }
    if (pattern.find(':') != std::string::npos) {
        const ip::network_v6 net = ip::make_network_v6(pattern, ec);
        if (ec || !peer.is_v6()) return false;
        return ip::network_v6(peer.to_v6(), net.prefix_length()).canonical() == net.canonical();
    }
    const ip::network_v4 net = ip::make_network_v4(pattern, ec);
    if (ec || !peer.is_v4()) return false;
    return ip::network_v4(peer.to_v4(), net.prefix_length()).canonical() == net.canonical();
}

const char* describe(CallerCheck check) {
    switch (check) {
        case CallerCheck::allowed: return "known caller";
        case CallerCheck::unknown_ae: return "calling AE title not among listen.known_callers";
        case CallerCheck::host_not_allowed: return "address not allowed for this calling AE title (listen.known_callers)";
        case CallerCheck::certificate_not_allowed:
            return "client certificate subject not allowed for this calling AE title (listen.known_callers)";
    }
    return "?";
}

CallerCheck check_caller(const std::vector<KnownCaller>& known, const std::string& calling_ae,
                         const std::string& address, const std::string& certificate_subject) {
    if (known.empty()) return CallerCheck::allowed;
    CallerCheck best = CallerCheck::unknown_ae;
    for (const auto& k : known) {
        if (k.ae_title != calling_ae) continue;
        if (!host_matches(k.host, address)) continue;
        if (!k.certificate_subject.empty() && k.certificate_subject != certificate_subject) {
            best = CallerCheck::certificate_not_allowed;
            continue;
        }
        return CallerCheck::allowed;
    }
    if (best == CallerCheck::unknown_ae)
        for (const auto& k : known)
            if (k.ae_title == calling_ae) best = CallerCheck::host_not_allowed;
    return best;
}

}  // namespace dimse
