#include "deid/pixels/PixelCleaner.h"

namespace deid::pixels {

struct PixelCleaner::Impl {};

PixelCleaner::PixelCleaner(const config::Pixels&) : impl_(new Impl) {}
PixelCleaner::~PixelCleaner() = default;

PixelReport PixelCleaner::clean(DcmFileFormat&) {
    PixelReport r;
    r.examined = true;
    r.failure = "pixel cleaning is not built yet";
    return r;
}

}  // namespace deid::pixels
