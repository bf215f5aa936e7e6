#include "deid/InstanceDeidentifier.h"

namespace deid {

struct InstanceDeidentifier::Impl {};

InstanceDeidentifier::InstanceDeidentifier(const config::Config&, PseudonymSource&) : impl_(new Impl) {}
InstanceDeidentifier::~InstanceDeidentifier() = default;

Outcome InstanceDeidentifier::process_file(const std::string&, const std::string&, const std::string&) {
    Outcome o;
    o.kind = Outcome::Kind::Quarantined;
    o.reason = "not-built";
    o.detail = "the de-identification engine is not built yet";
    return o;
}

}  // namespace deid
