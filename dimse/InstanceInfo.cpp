#include "dimse/InstanceInfo.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

namespace dimse {

namespace {
std::string get(DcmItem& item, const DcmTagKey& tag) {
    OFString v;
    if (item.findAndGetOFString(tag, v).bad()) return {};
    std::string s = v.c_str();
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}
}  // namespace

std::optional<InstanceInfo> read_instance_info(const std::string& path) {
    DcmFileFormat file;
    if (file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 1024, ERM_autoDetect).bad()) return std::nullopt;
    DcmDataset& ds = *file.getDataset();
    InstanceInfo info;
    info.sop_class_uid = get(ds, DCM_SOPClassUID);
    info.sop_instance_uid = get(ds, DCM_SOPInstanceUID);
    info.study_instance_uid = get(ds, DCM_StudyInstanceUID);
    info.series_instance_uid = get(ds, DCM_SeriesInstanceUID);
    info.modality = get(ds, DCM_Modality);
    info.manufacturer = get(ds, DCM_Manufacturer);
    info.transfer_syntax_uid = DcmXfer(ds.getOriginalXfer()).getXferID();
    return info;
}

}  // namespace dimse
