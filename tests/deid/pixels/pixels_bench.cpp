// Benchmark (bench/pixels_bench.sh): instances/s through PixelCleaner::clean with 2 threads, for
// 640x480 RGB ultrasound frames with burned-in text and for 512x512 16-bit CT frames without.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <dcmtk/dcmdata/dcfilefo.h>

#include "config/Config.h"
#include "deid/pixels/PixelCleaner.h"
#include "SyntheticImages.h"

using namespace deid::pixels;

static double run(std::vector<std::unique_ptr<DcmFileFormat>>& files, PixelCleaner* cleaner, int threads) {
    std::atomic<std::size_t> next{0};
    std::atomic<int> failures{0};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (std::size_t i; (i = next++) < files.size();) {
                DcmFileFormat copy(*files[i]);  // what the pipeline has in hand: a parsed instance
                if (cleaner && !cleaner->clean(copy).failure.empty()) ++failures;
            }
        });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (failures) std::printf("  (%d instances failed verification)\n", failures.load());
    return files.size() / s;
}

int main(int argc, char** argv) {
    const int us_count = argc > 1 ? std::atoi(argv[1]) : 100;
    const int ct_count = argc > 2 ? std::atoi(argv[2]) : 400;
    cv::RNG rng(7);
    std::vector<std::unique_ptr<DcmFileFormat>> us, ct;
    for (int i = 0; i < us_count; ++i) {
        auto c = pixels_test::make_case(rng, {640, 480}, i % 2 ? pixels_test::Background::anatomy
                                                               : pixels_test::Background::black, true, 1, 6);
        us.push_back(pixels_test::make_instance(c.frames, "US"));
    }
    for (int i = 0; i < ct_count; ++i) ct.push_back(pixels_test::make_instance({pixels_test::make_ct_frame(rng)}, "CT"));
    PixelCleaner cleaner(config::Pixels{});
    // Warm-up: one OCR engine per thread is created on first use.
    run(us, &cleaner, 2);
    std::printf("US 640x480 RGB with text, 2 threads: %.1f instances/s (%d instances)\n", run(us, &cleaner, 2), us_count);
    const double off = run(ct, nullptr, 2);
    const double on = run(ct, &cleaner, 2);
    std::printf("CT 512x512 16-bit, 2 threads, clean_pixel_data off: %.1f instances/s (%d instances)\n", off, ct_count);
    std::printf("CT 512x512 16-bit, 2 threads, clean_pixel_data on:  %.1f instances/s (%d instances)\n", on, ct_count);
    return 0;
}
