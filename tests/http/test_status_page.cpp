#include "http/StatusPage.h"

#include <catch2/catch.hpp>

namespace {

http::StatusSnapshot failing_snapshot() {
    http::StatusSnapshot s;
    s.version = "0.1.0";
    s.generated_at = "2026-12-01T20:00:00Z";
    s.listener = {true, "DEIDGW", "127.0.0.1", 11112, 2};
    s.broker.up = true;
    s.spool.writable = s.spool.has_room = true;
    http::DestinationStatus d;
    d.name = "research<pacs>";
    d.kind = "dicom";
    d.state = http::DestinationState::failing;
    d.queue_depth = 12;
    d.oldest_queued_age_seconds = 95;
    d.last_error = "connect-failed";
    d.last_error_at = "2026-12-01T19:59:58Z";
    s.destinations.push_back(d);
    s.quarantine = {{"malformed", 2}, {"verification-failed", 1}};
    s.throughput = {{"received", 60, 12, 4}};
    return s;
}

}  // namespace

TEST_CASE("the status page names a failing destination with its queue, escaped, and refreshes itself") {
    const auto html = http::render_html(failing_snapshot(), 5);
    CHECK(html.find("<meta http-equiv=\"refresh\" content=\"5\">") != std::string::npos);
    CHECK(html.find("name=\"viewport\"") != std::string::npos);
    CHECK(html.find("research&lt;pacs&gt;") != std::string::npos);
    CHECK(html.find("research<pacs>") == std::string::npos);
    CHECK(html.find("<div class=\"dest\" data-destination=\"research&lt;pacs&gt;\"><h3>research&lt;pacs&gt; <small>(dicom)</small> "
                    "<span class=\"state failing\">failing</span></h3>\n<p>queue <b class=\"queue\">12</b>, oldest 95 s") !=
          std::string::npos);
    CHECK(html.find("connect-failed at 2026-12-01T19:59:58Z") != std::string::npos);
    CHECK(html.find("<td>malformed</td><td>2</td>") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
}

TEST_CASE("the text status says the same: destination state, queue, quarantine, broker") {
    auto s = failing_snapshot();
    s.broker.up = false;
    s.broker.problem = "no answer";
    const auto text = http::render_text(s);
    CHECK(text.find("NOT READY") != std::string::npos);
    CHECK(text.find("research<pacs> (dicom): failing, queue 12 (oldest 95 s)") != std::string::npos);
    CHECK(text.find("broker: NOT ANSWERING: no answer") != std::string::npos);
    CHECK(text.find("  malformed: 2\n") != std::string::npos);
}
