#include "receive/SpoolingStoreHandler.h"

#include <chrono>
#include <cstdio>

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "dimse/DimseStatus.h"
#include "common/Log.h"
#include "common/WriteAll.h"
#include "metrics/GatewayMetrics.h"

namespace receive {

using dimse::DimseStatus::CannotUnderstand;
using dimse::DimseStatus::DataSetDoesNotMatchSopClass;
using dimse::DimseStatus::RefusedOutOfResources;
using dimse::DimseStatus::Success;

namespace {
// A data set received into memory, written to its receive file (for the quarantine, which keeps files).
std::error_code write_received_file(const dimse::CStoreRequest& request) {
    const int fd = ::open(request.file_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return {errno, std::generic_category()};
    std::error_code ec;
    if (!common::write_all(fd, request.data.data(), request.data.size())) ec = {errno, std::generic_category()};
    if (::close(fd) != 0 && !ec) ec = {errno, std::generic_category()};
    return ec;
}

std::string hex(std::uint16_t status) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04X", status);
    return buf;
}
}  // namespace

SpoolingStoreHandler::SpoolingStoreHandler(spool::Spool& spool, spool::ParsedBudget* budget)
    : spool_(spool), budget_(budget) {}

std::uint16_t SpoolingStoreHandler::handle_store(dimse::CStoreRequest& request) {
    // The exception boundary of the reception: whatever throws below becomes A700 and a log line,
    // never an exception through DCMTK's association loop (which would end the process).
    // The association's thread, named once for top, /proc and bench/cpu_profile.sh.
    static thread_local bool named = (::pthread_setname_np(::pthread_self(), "receive"), true);
    (void)named;
    try {
        return decide(request);
    } catch (const std::exception& e) {
        common::log(common::Level::error, "receive",
            request.association_id + ": C-STORE message " + std::to_string(request.message_id) +
                " answered A700: internal error (" + e.what() + ")");
    } catch (...) {
        common::log(common::Level::error, "receive",
            request.association_id + ": C-STORE message " + std::to_string(request.message_id) +
                " answered A700: internal error");
    }
    return RefusedOutOfResources;
}

std::uint16_t SpoolingStoreHandler::refuse_and_quarantine(const dimse::CStoreRequest& request, std::uint16_t status,
                                                          const std::string& reason, const std::string& detail) {
    spool::QuarantineRecord record;
    record.id = spool_.new_id();
    record.reason = reason;
    record.detail = detail;
    record.stage = spool::Stage::receive;
    record.calling_ae = request.calling_ae;
    auto ec = request.in_memory ? write_received_file(request) : std::error_code{};
    if (!ec) ec = spool_.quarantine(request.file_path, record);
    if (ec && request.in_memory) std::remove(request.file_path.c_str());  // ours: the SCP removes none
    if (!ec && metrics_) metrics_->quarantined("receive", reason);
    common::log(common::Level::warning, "receive",
        request.association_id + ": C-STORE message " + std::to_string(request.message_id) + " answered " +
            hex(status) + ": " + detail +
            (ec ? " (could not quarantine: " + ec.message() + ")" : "; quarantined as " + reason + "/" + record.id));
    return status;
}

std::uint16_t SpoolingStoreHandler::decide(dimse::CStoreRequest& request) {
    if (!request.parsed)
        return refuse_and_quarantine(request, CannotUnderstand, "malformed", "the data set cannot be parsed");
    if (request.dataset_sop_class_uid.empty() || request.dataset_sop_instance_uid.empty())
        return refuse_and_quarantine(request, CannotUnderstand, "malformed",
                                     "the data set has no SOP Class UID or no SOP Instance UID");
    if (request.dataset_sop_class_uid != request.affected_sop_class_uid)
        return refuse_and_quarantine(request, DataSetDoesNotMatchSopClass, "sop-class-mismatch",
                                     "the data set's SOP Class UID differs from the request's");
    std::string why;
    if (!spool_.has_room(request.file_size, &why)) {
        common::log(common::Level::warning, "receive",
            request.association_id + ": C-STORE message " + std::to_string(request.message_id) + " answered A700: " + why);
        return RefusedOutOfResources;
    }
    spool::InstanceRecord record;
    record.id = spool_.new_id();
    record.calling_ae = request.calling_ae;
    record.received_ms = spool::Spool::received_ms(record.id);
    if (budget_) record.parsed = spool::hold(*budget_, std::move(request.dataset), request.file_size);
    const std::string id = record.id;
    const auto sync_start = std::chrono::steady_clock::now();
    if (const auto ec = spool_.admit(std::move(record), request.file_path, request.file_size, request.file_descriptor,
                                     request.in_memory ? &request.data : nullptr)) {
        common::log(common::Level::error, "receive",
            request.association_id + ": C-STORE message " + std::to_string(request.message_id) +
                " answered A700: durable write failed: " + ec.message());
        return RefusedOutOfResources;
    }
    // How long the durable write took (docs/operations.md, Durability 1): what Success waits for.
    const auto sync_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                               sync_start).count();
    if (metrics_) metrics_->received(static_cast<double>(sync_us) / 1e6);
    char synced[32];
    std::snprintf(synced, sizeof synced, "synced_ms=%.3f", static_cast<double>(sync_us) / 1000.0);
    common::log(common::Level::info, "receive",
        request.association_id + ": spooled " + id + " (" + std::to_string(request.file_size) + " bytes, " +
            request.transfer_syntax_uid + ", " + synced + ")");
    return Success;
}

}  // namespace receive
