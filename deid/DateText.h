// Dates as people write them in free text, shared by the cleaner and the verifier: numeric forms
// (2023-01-05, 05.01.2023, 1/5/23), month names and abbreviations in English, German, French,
// Spanish, Italian, Dutch, Portuguese and the Nordic languages ("5th of January 2023",
// "5. Januar 2023", "le 5 janvier", "Jan 5"), ordinals, day-month without a year, and CJK dates
// (2023年1月5日, 1月5日, 2023년 1월 5일).
#pragma once

#include <string>
#include <vector>

namespace deid {

// The folded forms (deid::fold) in which the date YYYYMMDD may be written with digits: numeric
// with any separators and CJK ("1月5日"). Month names are read by find_text_dates.
std::vector<std::string> date_written_forms(const std::string& yyyymmdd);

// A date found in free text: the original bytes [begin, end) and what it says. year 0 when the
// text gives none; month 0 when it cannot be told (e.g. "05/06/2023" could be either order).
struct TextDate {
    std::size_t begin = 0, end = 0;
    int year = 0, month = 0, day = 0;
    bool ambiguous = false;  // day and month could be swapped
};

// Every date in `text` (UTF-8), in the forms above. Cheap on text without digits.
std::vector<TextDate> find_text_dates(const std::string& text);

// The month (1-12) a folded word names in one of the languages above, or 0.
int month_of_word(const std::string& folded_word);

}  // namespace deid
