#!/usr/bin/env python3
"""Generate the clinical vocabulary and the coded-string defined terms of deid/ (issue 11).

Usage:  scripts/gen_vocabulary.py [--out deid/vocabulary]

Writes deid/vocabulary/Vocabulary.inc (descriptor words that are clinical vocabulary) and
deid/vocabulary/DefinedTerms.inc (CS attributes and their defined terms / enumerated values),
both committed; see deid/vocabulary/SOURCE.md. Inputs, all from Debian 12 packages (the versions
the script finds are written into the output's header):
  libdcmtk-dev  /usr/include/dcmtk/dcmsr/codes/*.h   code meanings DCMTK ships (DCM = PS3.16
                                                     Annex D, SCT, NCIt, UMLS, UCUM)
                /usr/include/dcmtk/dcmsr/cmr/cid*.h  the PS3.16 context groups DCMTK implements
                                                     (CID 29 modalities, CID 4031 anatomic
                                                     regions, CID 4021 radiopharmaceuticals...)
  libdcmtk17    /usr/share/libdcmtk17/dicom.dic      attribute names of the data dictionary
                libcmr (through scripts/dcmtk_body_parts.cpp, compiled here with g++):
                                                     Body Part Examined defined terms, as DCMTK's
                                                     CID 4031e maps them (PS3.16 Annex L)
  libgdcm3.0    /usr/share/gdcm-3.0/XML/Part3.xml    PS3.3 (2008) defined terms and enumerated
                                                     values of each attribute
plus deid/vocabulary/abbreviations.txt (common anatomical and acquisition abbreviations and
function words, several languages; the one hand-written input).
Standard library only (and g++ for the helper).
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile
import unicodedata
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CODES = "/usr/include/dcmtk/dcmsr/codes"
CMR = "/usr/include/dcmtk/dcmsr/cmr"
DICT = "/usr/share/libdcmtk17/dicom.dic"
PART3 = "/usr/share/gdcm-3.0/XML/Part3.xml"
LIBCMR = glob.glob("/usr/lib/x86_64-linux-gnu/libcmr.so.*")

CODE_RE = re.compile(r'#define\s+CODE_(\w+)\s+DSRBasicCodedEntry\("([^"]*)",\s*"([^"]*)",\s*"((?:[^"\\]|\\.)*)"')
CS_OK = re.compile(r"^[A-Z0-9_ ]{1,16}$")


def fold(word):
    """Lower case, diacritics dropped (as deid::fold() does for Latin letters)."""
    w = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in w if not unicodedata.combining(c))


def words_of(text):
    """Latin-letter runs of 2 or more letters, folded; CamelCase split."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [fold(w) for w in re.findall(r"[^\W\d_]{2,}", text) if fold(w).isascii()]


def package_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout
    except OSError:
        return "?"


def code_meanings():
    codes = {}
    for path in sorted(glob.glob(os.path.join(CODES, "*.h"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            for m in CODE_RE.finditer(f.read()):
                codes[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return codes


def context_group_names():
    """The enum member names of every CID DCMTK implements (CamelCase code meanings)."""
    names = []
    for path in sorted(glob.glob(os.path.join(CMR, "cid*.h"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for block in re.findall(r"enum EnumType\s*\{(.*?)\};", text, re.S):
            names += re.findall(r"^\s*([A-Z]\w*)\s*,?\s*$", block, re.M)
            # the "/// (value,scheme,"meaning")" comments
            names += re.findall(r'///\s*\([^,]*,[^,]*,"([^"]*)"\)', block)
    return names


def dictionary_names():
    names = []
    with open(DICT, encoding="latin-1") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                names.append(parts[2])
    return names


def part3_terms():
    """(group, element) -> defined terms and enumerated values, from GDCM's PS3.3 XML."""
    terms = collections.defaultdict(set)
    head = re.compile(r"(Enumerated Values|Defined Terms)[^:\n]*:\s*$")
    line_re = re.compile(r"^\s*([A-Z0-9][A-Z0-9_ ]{0,15}?)\s*(?:[=\t].*)?$")
    meanings = []
    root = ET.parse(PART3).getroot()
    for entry in root.iter("entry"):
        g, e = (entry.get("group") or "").upper(), (entry.get("element") or "").upper()
        if not re.fullmatch(r"[0-9A-F]{4}", g) or not re.fullmatch(r"[0-9A-F]{4}", e):
            continue
        for sub in entry.iter():
            if sub.tag in ("defined-terms", "enumerated-values", "retired-defined-terms"):
                for term in sub.iter("term"):
                    v = (term.get("value") or "").split("\t")[0].strip()
                    if CS_OK.match(v):
                        terms[(g, e)].add(v)
                    meanings.append(term.get("meaning") or "")
        lines = "\n".join(entry.itertext()).split("\n")
        i = 0
        while i < len(lines):
            if not head.search(lines[i]):
                i += 1
                continue
            i += 1
            while i < len(lines) and lines[i].strip():
                m = line_re.match(lines[i])
                if not m:
                    break
                if CS_OK.match(m.group(1).strip()):
                    terms[(g, e)].add(m.group(1).strip())
                i += 1
    return terms, meanings


def dictionary_cs_tags():
    """(group, element) of every CS attribute in DCMTK's dictionary."""
    tags = set()
    with open(DICT, encoding="latin-1") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1] == "CS":
                m = re.fullmatch(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)", parts[0])
                if m:
                    tags.add((m.group(1).upper(), m.group(2).upper()))
    return tags


def body_parts(candidates):
    src = os.path.join(HERE, "dcmtk_body_parts.cpp")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "body_parts")
        subprocess.run(["g++", "-std=c++17", src, "-lcmr", "-ldcmsr", "-ldcmdata", "-loflog", "-lofstd", "-o", exe],
                       check=True)
        # Proposals: upper-case words of libcmr's read-only data and of the inputs above; DCMTK
        # decides which are defined terms.
        for lib in LIBCMR:
            with open(lib, "rb") as f:
                candidates |= set(re.findall(rb"[A-Z]{3,}", f.read()))
        text = b"\n".join(sorted(c if isinstance(c, bytes) else c.encode() for c in candidates)).decode("ascii", "ignore")
        out = subprocess.run([exe], input=text, capture_output=True, text=True, check=True).stdout
    return sorted(line.split("\t")[0] for line in out.splitlines() if line)


def read_abbreviations(path):
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0]
            words += [fold(w) for w in line.split()]
    return words


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "deid", "vocabulary"))
    args = ap.parse_args()

    codes = code_meanings()
    terms, term_meanings = part3_terms()
    abbreviations = read_abbreviations(os.path.join(args.out, "abbreviations.txt"))

    vocabulary = collections.Counter()
    for _value, _scheme, meaning in codes.values():
        vocabulary.update(words_of(meaning))
    for name in context_group_names():
        vocabulary.update(words_of(name))
    for name in dictionary_names():
        vocabulary.update(words_of(name))
    for meaning in term_meanings:
        vocabulary.update(words_of(meaning))
    for values in terms.values():
        for v in values:
            vocabulary.update(words_of(v))
    vocabulary.update(abbreviations)

    # Modality (0008,0060): the codes of CID 29 (DCMTK's cid29.h names CODE_DCM_<name>).
    cid29 = []
    with open(os.path.join(CMR, "cid29.h"), encoding="utf-8") as f:
        block = re.search(r"enum EnumType\s*\{(.*?)\};", f.read(), re.S).group(1)
    for name in re.findall(r"^\s*([A-Z]\w*)\s*,?\s*$", block, re.M):
        code = codes.get("DCM_" + name)
        if code and CS_OK.match(code[0]):
            terms[("0008", "0060")].add(code[0])
            cid29.append(code[0])
    parts = body_parts({w.upper().encode() for w in abbreviations if w.isalpha()})
    terms[("0018", "0015")] |= set(parts)

    cs_tags = dictionary_cs_tags()
    cs_terms = {k: v for k, v in terms.items() if k in cs_tags and v}
    for k in cs_terms:
        for v in cs_terms[k]:
            vocabulary.update(words_of(v))
            if v.isalnum():
                vocabulary[fold(v)] += 1

    header = ("// Generated by scripts/gen_vocabulary.py from Debian 12 packages: libdcmtk-dev {}, "
              "libgdcm3.0 {};\n// see deid/vocabulary/SOURCE.md. Do not edit: rerun the script.\n").format(
                  package_version("libdcmtk-dev"), package_version("libgdcm3.0"))
    words = sorted(w for w in vocabulary if w.isascii() and w.isalpha() and (len(w) >= 2 or w in abbreviations))
    with open(os.path.join(args.out, "Vocabulary.inc"), "w", encoding="utf-8") as f:
        f.write(header)
        f.write("// {} folded words: code meanings ({} codes), context groups, attribute names, defined terms,\n"
                "// deid/vocabulary/abbreviations.txt.\n".format(len(words), len(codes)))
        for w in words:
            f.write('"{}",\n'.format(w))
    n = sum(len(v) for v in cs_terms.values())
    with open(os.path.join(args.out, "DefinedTerms.inc"), "w", encoding="utf-8") as f:
        f.write(header)
        f.write("// {} CS attributes, {} terms: PS3.3 (GDCM Part3.xml) defined terms and enumerated values,\n"
                "// Modality from CID 29 ({} codes), Body Part Examined from DCMTK's CID 4031e ({} terms).\n"
                .format(len(cs_terms), n, len(cid29), len(parts)))
        for (g, e) in sorted(cs_terms):
            for v in sorted(cs_terms[(g, e)]):
                f.write('{{0x{}, 0x{}, "{}"}},\n'.format(g, e, v))
    print("vocabulary: {} words; defined terms: {} attributes, {} terms ({} body parts, {} modalities)".format(
        len(words), len(cs_terms), n, len(parts), len(cid29)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
