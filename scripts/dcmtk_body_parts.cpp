// Helper of scripts/gen_vocabulary.py: prints the Body Part Examined (0018,0015) defined terms
// that DCMTK's CID 4031e (PS3.16 Annex L, "Correspondence of Anatomic Region Codes and Body Part
// Examined Defined Terms") maps to a code, one "TERM<TAB>code meaning" per line. The candidates
// (stdin, one per line, plus each CID 4031 code meaning upper-cased with and without blanks and its
// first word) are only proposals: a term is printed only when DCMTK maps it.
//   g++ -std=c++17 scripts/dcmtk_body_parts.cpp -lcmr -ldcmsr -ldcmdata -loflog -lofstd -o /tmp/body_parts
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmsr/cmr/cid4031e.h>

#include <cctype>
#include <iostream>
#include <set>
#include <string>

int main() {
    std::set<std::string> candidates;
    std::string line;
    while (std::getline(std::cin, line))
        if (!line.empty()) candidates.insert(line);
    for (int v = CID4031_CommonAnatomicRegions::Abdomen; v <= CID4031_CommonAnatomicRegions::Zygoma; ++v) {
        const DSRCodedEntryValue code =
            CID4031_CommonAnatomicRegions::getCodedEntry(static_cast<CID4031_CommonAnatomicRegions::EnumType>(v));
        std::string meaning = code.getCodeMeaning().c_str(), upper, joined, first;
        for (char c : meaning) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        for (char c : upper)
            if (std::isalpha(static_cast<unsigned char>(c))) joined += c;
        first = upper.substr(0, upper.find(' '));
        candidates.insert(upper);
        candidates.insert(joined);
        candidates.insert(first);
    }
    for (const std::string& term : candidates) {
        DSRCodedEntryValue code;
        if (CID4031e_CommonAnatomicRegions::mapBodyPartExamined(term.c_str(), code).good() && code.isValid())
            std::cout << term << '\t' << code.getCodeMeaning().c_str() << '\n';
    }
    return 0;
}
