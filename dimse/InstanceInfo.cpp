#include "dimse/InstanceInfo.h"

#include "dimse/DcmValues.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcxfer.h>

namespace dimse {

std::optional<InstanceInfo> read_instance_info(const std::string& path) {
    DcmFileFormat file;
    if (file.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, 1024, ERM_autoDetect).bad()) return std::nullopt;
    return instance_info(file);
}

InstanceInfo instance_info(DcmFileFormat& file) {
    DcmDataset& ds = *file.getDataset();
    InstanceInfo info;
    info.sop_class_uid = string_value(ds, DCM_SOPClassUID);
    info.sop_instance_uid = string_value(ds, DCM_SOPInstanceUID);
    info.study_instance_uid = string_value(ds, DCM_StudyInstanceUID);
    info.series_instance_uid = string_value(ds, DCM_SeriesInstanceUID);
    info.modality = string_value(ds, DCM_Modality);
    info.manufacturer = string_value(ds, DCM_Manufacturer);
    info.transfer_syntax_uid = DcmXfer(ds.getOriginalXfer()).getXferID();
    return info;
}

}  // namespace dimse
