#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Python: poppler-utils (pdftoppm renders
# the emergency-card PDFs to PNG in tests/test_cards.py), and what the Dockerfile gives
# WeasyPrint: HarfBuzz's font subsetter (fast PDF font embedding) and the DejaVu fonts the
# card templates use; and Debian's Chromium (/usr/bin/chromium), which the browser tests of the
# web app (tests/test_web_browser.py) drive with Playwright. Idempotent: installs with apt-get
# only what is missing; does nothing when everything is there. Run as root (CI) or with sudo.
set -euo pipefail

PACKAGES=(poppler-utils libharfbuzz-subset0 fonts-dejavu-core chromium)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-system-packages: missing ${missing[*]} and not root (no sudo): install them by hand" >&2
    exit 1
  fi
fi
echo "install-system-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
