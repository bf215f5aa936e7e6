#include "deid/SafeAttributes.h"

#include <iterator>
#include <set>

namespace deid {

namespace {
constexpr std::uint32_t t(std::uint16_t g, std::uint16_t e) { return (std::uint32_t(g) << 16) | e; }

const std::uint32_t kSafeText[] = {
    t(0x0008, 0x0070),  // Manufacturer
    t(0x0008, 0x1090),  // Manufacturer's Model Name
    t(0x0018, 0x1020),  // Software Versions
    t(0x0018, 0x1016),  // Secondary Capture Device Manufacturer
    t(0x0018, 0x1018),  // Secondary Capture Device Manufacturer's Model Name
    t(0x0018, 0x1019),  // Secondary Capture Device Software Versions
    t(0x0008, 0x0100),  // Code Value
    t(0x0008, 0x0102),  // Coding Scheme Designator
    t(0x0008, 0x0103),  // Coding Scheme Version
    t(0x0008, 0x0104),  // Code Meaning
    t(0x0008, 0x0105),  // Mapping Resource
    t(0x0008, 0x0106),  // Context Group Version
    t(0x0008, 0x0107),  // Context Group Local Version
    t(0x0008, 0x0115),  // Coding Scheme Name
    t(0x0008, 0x0119),  // Long Code Value
    t(0x0008, 0x0120),  // URN Code Value
    t(0x0008, 0x0122),  // Mapping Resource Name
    t(0x0018, 0x0024),  // Sequence Name
    t(0x0018, 0x0085),  // Imaged Nucleus
    t(0x0018, 0x1160),  // Filter Type
    t(0x0018, 0x1210),  // Convolution Kernel
    t(0x0018, 0x1250),  // Receive Coil Name
    t(0x0018, 0x1251),  // Transmit Coil Name
    t(0x0018, 0x9005),  // Pulse Sequence Name
    t(0x0018, 0x0031),  // Radiopharmaceutical
    t(0x0018, 0x1072),  // Radiopharmaceutical Start Time (time of day only)
    t(0x0018, 0x1073),  // Radiopharmaceutical Stop Time
    t(0x0018, 0x1042),  // Contrast/Bolus Start Time
    t(0x0018, 0x1043),  // Contrast/Bolus Stop Time
    t(0x0018, 0x7050),  // Filter Material (CS in most editions)
    t(0x0020, 0x1040),  // Position Reference Indicator (Type 2 in Frame of Reference)
    t(0x0028, 0x1054),  // Rescale Type
    t(0x0028, 0x1055),  // Window Center & Width Explanation
    t(0x0028, 0x3003),  // LUT Explanation
    t(0x0028, 0x2114),  // Lossy Image Compression Method
    t(0x0054, 0x1101),  // Attenuation Correction Method
    t(0x0054, 0x1103),  // Reconstruction Method
    t(0x0054, 0x1105),  // Scatter Correction Method
    t(0x0040, 0xA122),  // Time (SR TIME content item; time of day only)
    t(0x0040, 0xA30A),  // Numeric Value
    t(0x0040, 0x08EA),  // Measurement Units Code Sequence
    t(0x0070, 0x0080),  // Content Label
    t(0x0070, 0x0002),  // Graphic Layer
    t(0x0070, 0x0022),  // Graphic Data
    t(0x0070, 0x0023),  // Graphic Type
    t(0x0070, 0x0068),  // Graphic Layer Description
    t(0x0040, 0x9210),  // LUT Label
    t(0x0018, 0x9080),  // Metabolite Map Description
    t(0x0018, 0x9047),  // Multi-Coil Element Name
    t(0x0018, 0x9041),  // Receive Coil Manufacturer Name
    t(0x0018, 0x9050),  // Transmit Coil Manufacturer Name
    t(0x0020, 0x9056),  // Stack ID (In-Stack Position Number depends on it)
    t(0x0020, 0x9421),  // Dimension Description Label
    t(0x0020, 0x9453),  // Frame Label
    t(0x0020, 0x9238),  // Functional Group Private Creator
    t(0x0062, 0x0005),  // Segment Label
    t(0x0062, 0x0009),  // Segment Algorithm Name
};

const std::uint32_t kClassUids[] = {
    t(0x0002, 0x0002),  // Media Storage SOP Class UID
    t(0x0002, 0x0010),  // Transfer Syntax UID
    t(0x0004, 0x1510),  // Referenced SOP Class UID in File
    t(0x0004, 0x1512),  // Referenced Transfer Syntax UID in File
    t(0x0008, 0x0016),  // SOP Class UID
    t(0x0008, 0x001A),  // Related General SOP Class UID
    t(0x0008, 0x001B),  // Original Specialized SOP Class UID
    t(0x0008, 0x0062),  // SOP Classes in Study
    t(0x0008, 0x010C),  // Coding Scheme UID
    t(0x0008, 0x0117),  // Context UID
    t(0x0008, 0x0118),  // Mapping Resource UID
    t(0x0008, 0x1150),  // Referenced SOP Class UID
    t(0x0040, 0xDB0C),  // Template Extension Creator UID
    t(0x0040, 0xDB0D),  // Template Extension Organization UID
    t(0x0400, 0x0010),  // MAC Calculation Transfer Syntax UID
    t(0x0000, 0x0002),  // Affected SOP Class UID
    t(0x0000, 0x0003),  // Requested SOP Class UID
};

bool contains(const std::set<std::uint32_t>& s, std::uint32_t key) { return s.count(key) > 0; }
const std::set<std::uint32_t>& safe_text() {
    static const std::set<std::uint32_t> s(std::begin(kSafeText), std::end(kSafeText));
    return s;
}
const std::set<std::uint32_t>& class_uids() {
    static const std::set<std::uint32_t> s(std::begin(kClassUids), std::end(kClassUids));
    return s;
}
}  // namespace

bool is_safe_text_attribute(std::uint16_t group, std::uint16_t element) {
    return contains(safe_text(), t(group, element));
}

bool is_class_uid_attribute(std::uint16_t group, std::uint16_t element) {
    return contains(class_uids(), t(group, element));
}

bool is_descriptor_attribute(std::uint16_t group, std::uint16_t element) {
    switch (t(group, element)) {
        case t(0x0008, 0x1030):  // Study Description
        case t(0x0008, 0x103E):  // Series Description
        case t(0x0018, 0x1030):  // Protocol Name
        case t(0x0040, 0x0254):  // Performed Procedure Step Description
        case t(0x0040, 0x0007):  // Scheduled Procedure Step Description
        case t(0x0032, 0x1060):  // Requested Procedure Description
        case t(0x0018, 0x9423):  // Acquisition Protocol Name
        case t(0x0018, 0x9424):  // Acquisition Protocol Description
        case t(0x0018, 0x1400):  // Acquisition Device Processing Description
        case t(0x0070, 0x0081):  // Content Description
            return true;
        default:
            return false;
    }
}

bool is_type2_text_attribute(std::uint16_t group, std::uint16_t element) {
    switch (t(group, element)) {
        case t(0x0070, 0x0081):  // Content Description (Content Identification Macro)
            return true;
        default:
            return false;
    }
}

int attribute_type(std::uint16_t group, std::uint16_t element, const std::string& sop_class_uid, bool enhanced) {
    const bool structured_report = sop_class_uid.rfind("1.2.840.10008.5.1.4.1.1.88.", 0) == 0;
    const bool radiotherapy = sop_class_uid.rfind("1.2.840.10008.5.1.4.1.1.481.", 0) == 0;
    const bool waveform = sop_class_uid.rfind("1.2.840.10008.5.1.4.1.1.9.", 0) == 0;  // Waveform Identification
    switch (t(group, element)) {
        case t(0x0008, 0x1111):  // Referenced Performed Procedure Step Sequence: Type 2 in SR Document Series
            return structured_report ? 2 : 3;
        case t(0x0008, 0x1070):  // Operators' Name: Type 2 in RT Series
            return radiotherapy ? 2 : 3;
        case t(0x0008, 0x0023):  // Content Date: Type 1 in SR Document General and enhanced images
        case t(0x0008, 0x0033):  // Content Time
            return (structured_report || enhanced || waveform) ? 1 : 2;
        case t(0x0008, 0x002A):  // Acquisition DateTime: Type 1C in enhanced images, 1 in waveforms
            return (enhanced || waveform) ? 1 : 3;
        case t(0x0018, 0x1000):  // Device Serial Number: Type 1 in Enhanced General Equipment
            return enhanced ? 1 : 3;
        case t(0x0040, 0x0555):  // Acquisition Context Sequence: Type 2 where present
        case t(0x0018, 0x0010):  // Contrast/Bolus Agent: Type 2 in Contrast/Bolus
        case t(0x0070, 0x0084):  // Content Creator's Name: Type 2 in Content Identification
        case t(0x300A, 0x0006):  // RT Plan Date: Type 2 in RT General Plan
        case t(0x300A, 0x0007):  // RT Plan Time
        case t(0x300A, 0x00B2):  // Treatment Machine Name: Type 2 in RT Beams
        case t(0x3008, 0x0105):  // Source Serial Number: Type 2 in RT treatment records
        case t(0x300E, 0x0008):  // Reviewer Name: Type 2C in Approval
        case t(0x0010, 0x0020):  // Patient ID
        case t(0x0008, 0x0020):  // Study Date
        case t(0x0008, 0x0030):  // Study Time
            return 2;
        default:
            return 3;
    }
}

}  // namespace deid
