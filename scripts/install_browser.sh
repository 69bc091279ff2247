#!/usr/bin/env bash
# Headless Chromium and its WebDriver from Debian, for tests/test_browser.py (Voila + Selenium)
# and for kaleido's PNG export of the plotly figures. Nothing is downloaded at test time.
# Run as root (CI) or through sudo.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "chromium and chromedriver already installed: $(chromium --version 2>/dev/null | head -1)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium chromium-driver
chromium --version
chromedriver --version
