#include "metrics/RateWindow.h"

#include <catch2/catch.hpp>

using metrics::RateWindow;
using namespace std::chrono_literals;

TEST_CASE("a rate window counts events in the last minutes and forgets older ones") {
    RateWindow w;
    const auto t0 = RateWindow::Clock::time_point(1000000s);
    w.add(10, t0);
    w.add(5, t0 + 30s);
    w.add(6, t0 + 4min);
    const auto now = t0 + 4min + 1s;
    CHECK(w.count(60s, now) == 6);
    CHECK(w.count(5min, now) == 21);
    CHECK(w.per_minute(5min, now) == Approx(21.0 / 5));
    // 16 minutes later everything has left the window, even though slots are reused.
    const auto later = t0 + 20min;
    CHECK(w.count(15min, later) == 0);
    w.add(1, later);
    CHECK(w.count(15min, later) == 1);
}
