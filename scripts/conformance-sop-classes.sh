#!/usr/bin/env bash
# Prints the Storage SOP classes the gateway accepts as SCP (and may forward as SCU): DCMTK's
# dcmAllStorageSOPClassUIDs, which dimse/StoreScp.cpp offers to accept, as the Markdown table of
# docs/conformance-statement.md Annex A, from the DCMTK installed here (libdcmtk-dev).
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/list.cpp" <<'CPP'
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <cstdio>
int main() {
    std::printf("DCMTK %s (%s), %d Storage SOP classes\n\n| SOP class (DCMTK name) | UID |\n|---|---|\n",
                OFFIS_DCMTK_VERSION_STRING, OFFIS_IMPLEMENTATION_CLASS_UID, numberOfDcmAllStorageSOPClassUIDs);
    for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i)
        std::printf("| %s | `%s` |\n", dcmFindNameOfUID(dcmAllStorageSOPClassUIDs[i], "(no name)"),
                    dcmAllStorageSOPClassUIDs[i]);
}
CPP
g++ -std=c++17 "$tmp/list.cpp" -o "$tmp/list" -ldcmdata -loflog -lofstd
"$tmp/list"
