#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, only when something is missing.
# Used by run.sh and test.sh; safe to run again (quick when all is there).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdcmtk-dev dcmtk                       # DICOM parsing, codecs, networking; storescu/storescp for tests
  libicu-dev                               # text normalisation shared by the cleaner and the verifier (deid/)
  libboost-dev libboost-program-options-dev libboost-system-dev
  libssl-dev libsqlite3-dev sqlite3
  zlib1g-dev                               # bench/group_commit.sh's record checksum
  libpq-dev postgresql haproxy             # the shared keystore map; scale-out tests start their own
  libopencv-core-dev libopencv-imgproc-dev libopencv-photo-dev libopencv-imgcodecs-dev
  libtesseract-dev tesseract-ocr tesseract-ocr-eng
  libopenjp2-7-dev                         # JPEG 2000 / HTJ2K decoding, JPEG 2000 encoding (deid/pixels)
  openjph-tools                            # ojph_compress: HTJ2K test input with planted text (tests/deid/pixels)
  libfreetype-dev fonts-dejavu-core fonts-liberation fonts-freefont-ttf  # planted-text test corpus
  nlohmann-json3-dev catch2
  dicom3tools orthanc                      # dciodvfy and a real research PACS for tests
  libpixelmed-java default-jre-headless    # the comparison in bench/; PixelMed's storage SCU in tests/dimse
  libgdcm-tools                            # gdcmscu: GDCM's storage SCU against the listener (tests/dimse)
  libgdcm3.0 python3                       # scripts/gen_vocabulary.py (PS3.3 defined terms); the output is committed
  curl lsof procps ccache
  openssl                                  # the TLS tests and bench make their certificates with the command line
  file systemd                             # cpack's dpkg-shlibdeps step; systemd-analyze verify of the units
  prometheus chromium                      # the monitoring tests: a real scraper and a headless browser
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Orthanc's and Prometheus's packages start system services; the tests start their own instances.
if command -v systemctl >/dev/null 2>&1; then
  $sudo systemctl disable --now orthanc >/dev/null 2>&1 || true
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/orthanc ]; then $sudo /etc/init.d/orthanc stop >/dev/null 2>&1 || true; fi
if [ -x /etc/init.d/prometheus ]; then $sudo /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
