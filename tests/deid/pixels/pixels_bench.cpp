// Benchmark (bench/pixels_bench.sh): instances/s through PixelCleaner::clean with 2 threads, for
// 640x480 RGB ultrasound frames with burned-in text and for 512x512 CT / 256x256 MR 16-bit
// frames without, the text screen off and on.
// Each measured unit is what the pipeline does per instance around the cleaner: copy a parsed
// instance (DcmFileFormat), then call clean(). CT/MR "off" and "on" runs are interleaved and
// repeated; the median of the repeats is printed with every run, and
// the load average of the machine before and after.
// Then the same CT/MR sets through the de-identification stage as the gateway's workers run it
// (InstanceDeidentifier::process_file: read the spooled file, apply the profile with
// clean_pixel_data, clean pixels, write the output; writes not synced, files in a temporary
// folder), screen off and on: the throughput the gateway's 10 % target is about.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <dcmtk/dcmdata/dcfilefo.h>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <memory>

#include <time.h>
#include <unistd.h>

#include "config/Config.h"
#include "deid/InstanceDeidentifier.h"
#include "deid/pixels/FrameCodec.h"
#include "deid/pixels/PixelCleaner.h"
#include "deid/pixels/TextScreen.h"
#include "tests/support/MemoryPseudonymSource.h"
#include "SyntheticImages.h"

using namespace deid::pixels;

static std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

// Two worker threads kept for the whole benchmark: each keeps its OCR engine (thread_local), so
// no run pays for creating engines (a new thread per run did, which swamped short runs).
class Workers {
public:
    explicit Workers(int n) {
        for (int i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~Workers() {
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    int size() const { return static_cast<int>(threads_.size()); }
    // Runs `job` on every worker and waits until all are done.
    void run(const std::function<void()>& job) {
        std::unique_lock<std::mutex> l(m_);
        job_ = job;
        busy_ = static_cast<int>(threads_.size());
        ++generation_;
        cv_.notify_all();
        done_.wait(l, [this] { return busy_ == 0; });
    }

private:
    void loop() {
        std::uint64_t seen = 0;
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> l(m_);
                cv_.wait(l, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                job = job_;
            }
            job();
            std::lock_guard<std::mutex> l(m_);
            if (--busy_ == 0) done_.notify_all();
        }
    }
    std::vector<std::thread> threads_;
    std::mutex m_;
    std::condition_variable cv_, done_;
    std::function<void()> job_;
    std::uint64_t generation_ = 0;
    int busy_ = 0;
    bool stop_ = false;
};

static Workers* workers = nullptr;

static double run(std::vector<std::unique_ptr<DcmFileFormat>>& files, PixelCleaner* cleaner, int /*threads*/,
                  int& failures_out, int passes = 1) {
    std::atomic<int> failures{0}, slot{0};
    const auto t0 = std::chrono::steady_clock::now();
    workers->run([&] {
        // Each worker copies its own share of the files: DCMTK's copy constructor moves the
        // source's list cursors, so two threads must not copy one instance at the same time.
        const auto threads = static_cast<std::size_t>(workers->size());
        for (std::size_t i = static_cast<std::size_t>(slot++); i < files.size() * passes; i += threads) {
            DcmFileFormat copy(*files[i % files.size()]);  // what the pipeline has in hand: a parsed instance
            if (cleaner && !cleaner->clean(copy).failure.empty()) ++failures;
        }
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    failures_out = failures.load();
    return files.size() * passes / s;
}

static double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

static std::string list(const std::vector<double>& v) {
    std::string s;
    char buf[32];
    for (double x : v) {
        std::snprintf(buf, sizeof buf, x < 10 ? "%s%.3f" : "%s%.1f", s.empty() ? "" : " ", x);
        s += buf;
    }
    return s;
}

// `pixels_bench --stage MODALITY on|off N [PASSES]`: N instances of the bench's CT or MR set
// written to /dev/shm (or the temporary folder), then put PASSES times (default 1) through the
// de-identification stage (process_file, one thread, screen on or off); prints the thread's CPU
// time per instance of the best pass. For bench/pixels_callgrind.sh, which counts only process_file
// (valgrind --toggle-collect): the same inputs on and off, so inclusive costs compare directly.
static int stage_only(const std::string& modality, bool screen, int n, int passes) {
    cv::RNG rng(7);
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                                 : std::filesystem::temp_directory_path();
    const std::filesystem::path dir = base / ("pixels-stage-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::vector<std::string> inputs;
    for (int i = 0; i < n; ++i) {
        const cv::Mat f = pixels_test::make_ct_frame(rng);
        cv::Mat small;
        if (modality == "MR") cv::resize(f, small, {256, 256}, 0, 0, cv::INTER_AREA);
        inputs.push_back((dir / (modality + std::to_string(i) + ".dcm")).string());
        pixels_test::make_instance({modality == "MR" ? small : f}, modality == "MR" ? "MR" : "CT")
            ->saveFile(inputs.back().c_str(), EXS_LittleEndianExplicit);
    }
    const config::Config config = config::parse(
        std::string(R"({"profile": {"options": ["clean_pixel_data"]}, "pixels": {"screen_all_images": )") +
            (screen ? "true" : "false") + "}}",
        dir.string());
    testsupport::MemoryPseudonymSource source;
    deid::InstanceDeidentifier stage(config, source);
    stage.set_durable_writes(false);
    int bad = 0;
    double best = 1e18;  // CPU time of this thread per instance, the best pass
    for (int p = 0; p < passes; ++p) {
        timespec t0{}, t1{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        for (const std::string& in : inputs)
            if (stage.process_file(in, in + ".out").kind != deid::Outcome::Kind::Clean) ++bad;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
        best = std::min(best, ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / std::max(1, n));
    }
    std::filesystem::remove_all(dir);
    std::printf("%s screen %s: %d instances x %d through the stage, %d not clean, %.1f us CPU each (best pass)\n",
                modality.c_str(), screen ? "on" : "off", n, passes, bad, best);
    return bad ? 1 : 0;
}

int main(int argc, char** argv) {
    if ((argc == 5 || argc == 6) && std::string(argv[1]) == "--stage")
        return stage_only(argv[2], std::string(argv[3]) == "on", std::atoi(argv[4]), argc == 6 ? std::max(1, std::atoi(argv[5])) : 1);
    const int us_count = argc > 1 ? std::atoi(argv[1]) : 100;
    const int ct_count = argc > 2 ? std::atoi(argv[2]) : 4000;
    const int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
    const int threads = 2;
    Workers pool(threads);
    workers = &pool;
    const int kOffPasses = 20;  // each "off" run goes over the set this many times (longer runs, less noise)
    std::printf("load average before: %s (%u hardware threads)\n", load_average().c_str(),
                std::thread::hardware_concurrency());
    cv::RNG rng(7);
    std::vector<std::unique_ptr<DcmFileFormat>> us, ct;
    for (int i = 0; i < us_count; ++i) {
        auto c = pixels_test::make_case(rng, {640, 480}, i % 2 ? pixels_test::Background::anatomy
                                                               : pixels_test::Background::black, true, 1, 6);
        us.push_back(pixels_test::make_instance(c.frames, "US"));
    }
    std::vector<std::unique_ptr<DcmFileFormat>> mr;
    for (int i = 0; i < ct_count; ++i) {
        const cv::Mat f = pixels_test::make_ct_frame(rng);
        ct.push_back(pixels_test::make_instance({f}, "CT"));
        cv::Mat small;
        cv::resize(f, small, {256, 256}, 0, 0, cv::INTER_AREA);
        mr.push_back(pixels_test::make_instance({small}, "MR"));
    }
    PixelCleaner cleaner(config::Pixels{});
    int failures = 0;
    std::vector<double> us_rates;
    int us_failures = 0;
    if (us_count > 0) run(us, &cleaner, threads, failures);  // warm-up: each worker creates its OCR engine on first use
    for (int r = 0; us_count > 0 && r < std::max(1, repeats / 2); ++r) {
        us_rates.push_back(run(us, &cleaner, threads, failures));
        us_failures += failures;
    }
    if (us_count > 0) std::printf("US 640x480 RGB with text (6 lines), %d threads: %.1f instances/s median (runs: %s; %d instances "
                "each; %d quarantined by verification)\n",
                threads, median(us_rates), list(us_rates).c_str(), us_count, us_failures);

    // CT and MR with the text screen (pixels.screen_all_images) off and on, interleaved: "off" is
    // what these images cost before (a few header look-ups), "on" decodes every frame and runs the
    // screen (and OCR on what it keeps; these frames have no text).
    config::Pixels no_screen;
    no_screen.screen_all_images = false;
    PixelCleaner unscreened(no_screen);
    for (const char* modality : {"CT", "MR"}) {
        const bool is_ct = std::string(modality) == "CT";
        std::vector<std::unique_ptr<DcmFileFormat>>& set = is_ct ? ct : mr;
        std::vector<double> off, on;
        for (int r = 0; r < repeats; ++r) {  // interleaved: both see the same machine load
            off.push_back(run(set, &unscreened, threads, failures, kOffPasses));
            on.push_back(run(set, &cleaner, threads, failures, 1));
            if (failures) std::printf("  %d %s instances quarantined with the screen on\n", failures, modality);
        }
        const char* size = is_ct ? "512x512" : "256x256";
        std::printf("%s %s 16-bit, %d threads, screen off: %.0f instances/s median (runs: %s; %zu instances x %d)\n",
                    modality, size, threads, median(off), list(off).c_str(), set.size(), kOffPasses);
        std::printf("%s %s 16-bit, %d threads, screen on:  %.0f instances/s median (runs: %s; %zu instances)\n",
                    modality, size, threads, median(on), list(on).c_str(), set.size());
        std::vector<double> ratios;  // each "on" run against the "off" run just before it (same load)
        for (std::size_t i = 0; i < on.size(); ++i) ratios.push_back(on[i] / off[i]);
        std::printf("%s on/off: ratio of medians %.3f, median of paired ratios %.3f (pairs: %s)\n", modality,
                    median(on) / median(off), median(ratios), list(ratios).c_str());
    }
    // The screen's own cost, one thread: clean() alone on copies made beforehand, in CPU time of
    // the calling thread (less disturbed by other work on the machine than wall time), the best
    // of `repeats` runs; and the same for the copy the pipeline's unit above makes.
    auto cpu_now = [] {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
    };
    // "CT noise": frames as deid-generate writes them for bench/scrub_throughput.sh (12-bit
    // uniform noise, no anatomy and no text).
    std::vector<std::unique_ptr<DcmFileFormat>> ct_noise;
    for (int i = 0; i < std::min(ct_count, 100); ++i) {
        cv::Mat f(512, 512, CV_16UC1);
        rng.fill(f, cv::RNG::UNIFORM, 0, 4096);
        ct_noise.push_back(pixels_test::make_instance({f}, "CT"));
    }
    for (const char* modality : {"CT", "MR", "CT noise"}) {
        std::vector<std::unique_ptr<DcmFileFormat>>& set =
            std::string(modality) == "CT" ? ct : std::string(modality) == "MR" ? mr : ct_noise;
        double best_on = 1e18, best_off = 1e18, best_copy = 1e18;
        for (int r = 0; r < repeats; ++r) {
            std::vector<std::unique_ptr<DcmFileFormat>> copies;
            double t0 = cpu_now();
            for (const auto& f : set) copies.push_back(std::make_unique<DcmFileFormat>(*f));
            best_copy = std::min(best_copy, (cpu_now() - t0) / set.size());
            t0 = cpu_now();
            for (auto& f : copies) unscreened.clean(*f);
            best_off = std::min(best_off, (cpu_now() - t0) / set.size());
            t0 = cpu_now();
            for (auto& f : copies) cleaner.clean(*f);
            best_on = std::min(best_on, (cpu_now() - t0) / set.size());
        }
        // The first pass alone on the same frames.
        std::vector<cv::Mat> frames;
        for (const auto& f : set) {
            FrameCodec codec(*f->getDataset());
            if (codec.open().empty()) frames.push_back(codec.frame(0));
        }
        double best_pass = 1e18;
        std::size_t flagged = 0;
        for (int r = 0; r < repeats; ++r) {
            flagged = 0;
            const double t0 = cpu_now();
            for (const cv::Mat& m : frames) flagged += !TextScreen::text_areas(m).empty();
            best_pass = std::min(best_pass, (cpu_now() - t0) / std::max<std::size_t>(1, frames.size()));
        }
        std::printf("%s, one thread, CPU time per instance (best of %d): copy %.1f us, clean() screen off %.1f us, "
                    "screen on %.1f us, of which the first pass %.1f us (%zu of %zu frames flagged)\n",
                    modality, repeats, best_copy, best_off, best_on, best_pass, flagged, frames.size());
    }

    // The de-identification stage, per instance: process_file from a spooled file to an output file.
    // In memory (/dev/shm when there is one): the disk's own variance would hide the screen's cost.
    const std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                                 : std::filesystem::temp_directory_path();
    const std::filesystem::path dir = base / ("pixels-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    auto stage_config = [&](bool screen) {
        return config::parse(std::string(R"({"profile": {"options": ["clean_pixel_data"]}, "pixels": {"screen_all_images": )") +
                                 (screen ? "true" : "false") + "}}",
                             dir.string());
    };
    // As in the gateway: one InstanceDeidentifier and one pseudonym source per worker thread.
    struct Slot {
        testsupport::MemoryPseudonymSource source;
        std::unique_ptr<deid::InstanceDeidentifier> off, on;
    };
    std::vector<Slot> slots(threads);
    for (Slot& sl : slots) {
        sl.off = std::make_unique<deid::InstanceDeidentifier>(stage_config(false), sl.source);
        sl.on = std::make_unique<deid::InstanceDeidentifier>(stage_config(true), sl.source);
        sl.off->set_durable_writes(false), sl.on->set_durable_writes(false);
    }
    for (const char* modality : {"CT", "MR"}) {
        const bool is_ct = std::string(modality) == "CT";
        std::vector<std::unique_ptr<DcmFileFormat>>& set = is_ct ? ct : mr;
        const std::size_t n = std::min<std::size_t>(set.size(), 100);
        std::vector<std::string> inputs;
        for (std::size_t i = 0; i < n; ++i) {
            inputs.push_back((dir / (std::string(modality) + std::to_string(i) + ".dcm")).string());
            DcmFileFormat copy(*set[i]);
            copy.saveFile(inputs.back().c_str(), EXS_LittleEndianExplicit);
        }
        auto stage_run = [&](bool screen, int passes, int& failed) {
            std::atomic<std::size_t> next{0};
            std::atomic<int> bad{0}, slot{0};
            const auto t0 = std::chrono::steady_clock::now();
            workers->run([&] {
                Slot& mine = slots[static_cast<std::size_t>(slot++)];
                deid::InstanceDeidentifier& stage = screen ? *mine.on : *mine.off;
                for (std::size_t i; (i = next++) < n * passes;) {
                    const deid::Outcome o = stage.process_file(inputs[i % n], inputs[i % n] + ".out" + std::to_string(i % 2));
                    if (o.kind != deid::Outcome::Kind::Clean) ++bad;
                }
            });
            failed = bad.load();
            return n * passes / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        };
        // Each run goes over the set this many times: at 3 (before 2026-12-02) an MR run lasted ~40 ms
        // once the stage ran at ~8,000 instances/s, and one pair's ratio ranged 0.75-1.05 in one run.
        const int kStagePasses = 15;
        std::vector<double> off, on, ratios;
        int failed_off = 0, failed_on = 0;
        for (int r = 0; r < repeats; ++r) {
            off.push_back(stage_run(false, kStagePasses, failed_off));
            on.push_back(stage_run(true, kStagePasses, failed_on));
            ratios.push_back(on.back() / off.back());
        }
        const char* size = is_ct ? "512x512" : "256x256";
        std::printf("de-identification stage, %s %s, %d threads: screen off %.0f instances/s, on %.0f instances/s median "
                    "(off: %s; on: %s; %zu files x %d; not clean: %d off, %d on)\n",
                    modality, size, threads, median(off), median(on), list(off).c_str(), list(on).c_str(), n,
                    kStagePasses, failed_off, failed_on);
        std::printf("%s stage on/off: ratio of medians %.3f, median of paired ratios %.3f (pairs: %s)\n", modality,
                    median(on) / median(off), median(ratios), list(ratios).c_str());
    }
    std::filesystem::remove_all(dir);
    std::printf("load average after: %s\n", load_average().c_str());
    return 0;
}
