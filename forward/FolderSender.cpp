#include "forward/FolderSender.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dimse/InstanceInfo.h"
#include "spool/Spool.h"

namespace forward {

namespace fs = std::filesystem;

namespace {
dimse::SendResult make(dimse::SendResult::Kind kind, dimse::DimseError error, std::string detail) {
    dimse::SendResult r;
    r.kind = kind;
    if (error != dimse::DimseError::ok) r.error = error;
    r.detail = std::move(detail);
    return r;
}
bool safe_component(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}
}  // namespace

dimse::SendResult FolderSender::send(const std::string& path) {
    const auto info = dimse::read_instance_info(path);
    if (!info) return make(dimse::SendResult::Kind::Refused, dimse::DimseError::file_unreadable, "cannot parse the de-identified file");
    return deliver(*info, path, nullptr);
}

dimse::SendResult FolderSender::send(const std::string& path, spool::ParsedInstance& parsed) {
    if (!parsed || parsed.encoded.empty()) return send(path);
    return deliver(dimse::instance_info(*parsed.file), path, &parsed.encoded);
}

dimse::SendResult FolderSender::deliver(const dimse::InstanceInfo& info, const std::string& path, const std::string* bytes) {
    if (!safe_component(info.study_instance_uid) || !safe_component(info.series_instance_uid) ||
        !safe_component(info.sop_instance_uid))
        return make(dimse::SendResult::Kind::Refused, dimse::DimseError::invalid_uid, "missing or invalid Study/Series/SOP Instance UID");
    const fs::path dir = fs::path(directory_) / info.study_instance_uid / info.series_instance_uid;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make(dimse::SendResult::Kind::Retry, dimse::DimseError::write_failed, "cannot create the folder: " + ec.message());
    const fs::path target = dir / (info.sop_instance_uid + ".dcm");
    const fs::path temp = dir / ("." + info.sop_instance_uid + ".dcm.tmp");
    if (bytes) {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(bytes->data(), static_cast<std::streamsize>(bytes->size()));
        out.close();
        if (!out) ec = std::make_error_code(std::errc::io_error);
    } else {
        fs::copy_file(path, temp, fs::copy_options::overwrite_existing, ec);
    }
    if (ec || !spool::fsync_path(temp.string())) {
        fs::remove(temp, ec);
        return make(dimse::SendResult::Kind::Retry, dimse::DimseError::write_failed, "cannot write into the destination folder");
    }
    fs::rename(temp, target, ec);
    if (ec) return make(dimse::SendResult::Kind::Retry, dimse::DimseError::write_failed, "cannot rename: " + ec.message());
    spool::fsync_path(dir.string());
    return make(dimse::SendResult::Kind::Sent, dimse::DimseError::ok, "written " + info.study_instance_uid + "/" +
                                                       info.series_instance_uid + "/" + info.sop_instance_uid + ".dcm");
}

}  // namespace forward
