#!/usr/bin/env bash
# Debian's Chromium for the browser tier (tests/browser); Playwright's own browser
# download cannot work on a machine with a closed network, so the tests drive this one.
#
#   scripts/install-chromium.sh && .venv/bin/pytest -m browser tests/browser
#
# Idempotent: a machine that already has a working /usr/bin/chromium is left as is.
# Needs root (or sudo) for apt-get; the Python side (`playwright`) is in the dev extra.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if "$CHROMIUM" --version >/dev/null 2>&1; then
    echo "[install-chromium] $("$CHROMIUM" --version) already installed"
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
echo "[install-chromium] $("$CHROMIUM" --version) installed"
