#include "tests/dimse/TestInstances.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>

namespace testdata {

std::vector<Written> write_study(const std::string& dir, const StudySpec& spec) {
    std::filesystem::create_directories(dir);
    if (spec.rle) DcmRLEEncoderRegistration::registerCodecs();
    std::vector<Written> out;
    int series_number = 0;
    for (const Series& s : spec.series) {
        ++series_number;
        const std::string series_uid = spec.study_uid + "." + std::to_string(series_number);
        for (int i = 1; i <= s.instances; ++i) {
            const std::string sop_uid = series_uid + "." + std::to_string(i);
            DcmFileFormat file;
            DcmDataset* ds = file.getDataset();
            ds->putAndInsertString(DCM_SOPClassUID, s.sop_class_uid.c_str());
            ds->putAndInsertString(DCM_SOPInstanceUID, sop_uid.c_str());
            ds->putAndInsertString(DCM_StudyInstanceUID, spec.study_uid.c_str());
            ds->putAndInsertString(DCM_SeriesInstanceUID, series_uid.c_str());
            ds->putAndInsertString(DCM_FrameOfReferenceUID, (spec.study_uid + ".99").c_str());
            ds->putAndInsertString(DCM_PatientName, spec.patient_name.c_str());
            ds->putAndInsertString(DCM_PatientID, spec.patient_id.c_str());
            ds->putAndInsertString(DCM_PatientBirthDate, "19700101");
            ds->putAndInsertString(DCM_PatientSex, "F");
            ds->putAndInsertString(DCM_StudyDate, "20240102");
            ds->putAndInsertString(DCM_StudyTime, "101010");
            ds->putAndInsertString(DCM_AccessionNumber, "ACC-0815");
            ds->putAndInsertString(DCM_StudyID, "1");
            ds->putAndInsertString(DCM_Modality, s.modality.c_str());
            ds->putAndInsertString(DCM_SeriesNumber, std::to_string(series_number).c_str());
            ds->putAndInsertString(DCM_InstanceNumber, std::to_string(i).c_str());
            ds->putAndInsertString(DCM_InstitutionName, "GENERAL HOSPITAL");
            ds->putAndInsertString(DCM_ReferringPhysicianName, "HOUSE^GREGORY");
            ds->putAndInsertString(DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
            ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
            ds->putAndInsertString(DCM_PhotometricInterpretation, "MONOCHROME2");
            ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(spec.rows));
            ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(spec.columns));
            ds->putAndInsertUint16(DCM_BitsAllocated, 16);
            ds->putAndInsertUint16(DCM_BitsStored, 12);
            ds->putAndInsertUint16(DCM_HighBit, 11);
            ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
            std::vector<Uint16> pixels(static_cast<size_t>(spec.rows * spec.columns));
            for (size_t p = 0; p < pixels.size(); ++p) pixels[p] = static_cast<Uint16>((p * 7 + i * 13) % 4096);
            ds->putAndInsertUint16Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(pixels.size()));
            E_TransferSyntax ts = EXS_LittleEndianExplicit;
            if (spec.rle) {
                ts = EXS_RLELossless;
                if (ds->chooseRepresentation(ts, nullptr).bad()) throw std::runtime_error("RLE encoding failed");
            }
            const std::string path = dir + "/" + std::to_string(series_number) + "_" + std::to_string(i) + ".dcm";
            if (file.saveFile(path.c_str(), ts).bad()) throw std::runtime_error("cannot write " + path);
            out.push_back({path, sop_uid, series_uid});
        }
    }
    return out;
}

void write_malformed(const std::string& path) {
    // A valid file meta header (Explicit VR Little Endian) ...
    DcmFileFormat file;
    DcmDataset* ds = file.getDataset();
    ds->putAndInsertString(DCM_SOPClassUID, UID_CTImageStorage);
    ds->putAndInsertString(DCM_SOPInstanceUID, "1.2.826.0.1.3680043.8.498.666");
    file.saveFile(path.c_str(), EXS_LittleEndianExplicit);
    // ... followed by an element whose length runs far past the end of the data.
    std::ofstream out(path, std::ios::binary | std::ios::app);
    const unsigned char broken[] = {0x10, 0x00, 0x10, 0x00, 'P', 'N', 0xF0, 0xFF, 'X', 'Y'};
    out.write(reinterpret_cast<const char*>(broken), sizeof broken);
}

}  // namespace testdata

#include <cstring>

#include <dcmtk/dcmnet/assoc.h>
#include <dcmtk/dcmnet/dimse.h>

namespace testdata {

namespace {
int store(const RawStore& how, const char* file, DcmDataset* dataset) {
    T_ASC_Network* net = nullptr;
    if (ASC_initializeNetwork(NET_REQUESTOR, 0, 10, &net).bad()) return -1;
    T_ASC_Parameters* params = nullptr;
    ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
    ASC_setAPTitles(params, how.calling_ae.c_str(), how.called_ae.c_str(), nullptr);
    const std::string peer = "127.0.0.1:" + std::to_string(how.port);
    ASC_setPresentationAddresses(params, "localhost", peer.c_str());
    const char* ts[] = {UID_LittleEndianExplicitTransferSyntax};
    ASC_addPresentationContext(params, 1, how.request_sop_class_uid.c_str(), ts, 1);
    T_ASC_Association* assoc = nullptr;
    int status = -1;
    if (ASC_requestAssociation(net, params, &assoc).good()) {
        T_ASC_PresentationContextID pres = ASC_findAcceptedPresentationContextID(assoc, how.request_sop_class_uid.c_str());
        if (pres != 0) {
            T_DIMSE_C_StoreRQ req;
            std::memset(&req, 0, sizeof req);
            req.MessageID = assoc->nextMsgID++;
            OFStandard::strlcpy(req.AffectedSOPClassUID, how.request_sop_class_uid.c_str(), sizeof req.AffectedSOPClassUID);
            OFStandard::strlcpy(req.AffectedSOPInstanceUID, how.request_sop_instance_uid.c_str(), sizeof req.AffectedSOPInstanceUID);
            req.DataSetType = DIMSE_DATASET_PRESENT;
            req.Priority = DIMSE_PRIORITY_MEDIUM;
            T_DIMSE_C_StoreRSP rsp;
            std::memset(&rsp, 0, sizeof rsp);
            DcmDataset* detail = nullptr;
            OFCondition cond = DIMSE_storeUser(assoc, pres, &req, file, dataset, nullptr, nullptr, DIMSE_BLOCKING, 0,
                                               &rsp, &detail, nullptr, 0);
            if (cond.good()) status = rsp.DimseStatus;
            delete detail;
        }
        ASC_releaseAssociation(assoc);
        ASC_destroyAssociation(&assoc);
    } else {
        ASC_destroyAssociation(&assoc);
    }
    ASC_dropNetwork(&net);
    return status;
}
}  // namespace

int raw_store_file(const RawStore& how, const std::string& file) { return store(how, file.c_str(), nullptr); }

int raw_store_dataset_of(const RawStore& how, const std::string& file, bool drop_sop_instance_uid,
                         const std::string& replace_sop_class_uid) {
    DcmFileFormat ff;
    if (ff.loadFile(file.c_str()).bad()) return -1;
    ff.loadAllDataIntoMemory();
    DcmDataset* ds = ff.getDataset();
    if (drop_sop_instance_uid) ds->findAndDeleteElement(DCM_SOPInstanceUID);
    if (!replace_sop_class_uid.empty()) ds->putAndInsertString(DCM_SOPClassUID, replace_sop_class_uid.c_str());
    ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    return store(how, nullptr, ds);
}

}  // namespace testdata

namespace testdata {

HeldAssociation::HeldAssociation(const std::string& host, int port, const std::string& calling, const std::string& called) {
    if (ASC_initializeNetwork(NET_REQUESTOR, 0, 10, &net_).bad()) return;
    T_ASC_Parameters* params = nullptr;
    ASC_createAssociationParameters(&params, ASC_DEFAULTMAXPDU);
    ASC_setAPTitles(params, calling.c_str(), called.c_str(), nullptr);
    const std::string peer = host + ":" + std::to_string(port);
    ASC_setPresentationAddresses(params, "localhost", peer.c_str());
    const char* ts[] = {UID_LittleEndianImplicitTransferSyntax};
    ASC_addPresentationContext(params, 1, UID_VerificationSOPClass, ts, 1);
    if (ASC_requestAssociation(net_, params, &assoc_).bad()) {
        ASC_destroyAssociation(&assoc_);
        assoc_ = nullptr;
    }
}

HeldAssociation::~HeldAssociation() {
    if (assoc_) {
        ASC_abortAssociation(assoc_);
        ASC_destroyAssociation(&assoc_);
    }
    if (net_) ASC_dropNetwork(&net_);
}

}  // namespace testdata
