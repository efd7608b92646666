#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser.py drives it with Playwright; Playwright's own browser
# download is unreachable from an offline machine). Idempotent: nothing to do when `chromium` is on PATH or
# PLIMSOLL_CHROMIUM names a binary. Installs with apt-get as root, or through sudo; says what to do otherwise.
set -euo pipefail
if [[ -n "${PLIMSOLL_CHROMIUM:-}" && -x "${PLIMSOLL_CHROMIUM}" ]] || command -v chromium > /dev/null; then
    exit 0
fi
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    sudo=(sudo -n)
else
    echo "toolchain/chromium.sh: Chromium is missing and this user cannot install packages." >&2
    echo "  Install Debian's chromium (apt-get install chromium), or set PLIMSOLL_CHROMIUM to a Chromium binary." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
install=("${sudo[@]}" apt-get install -y -q --no-install-recommends chromium)
# A fresh machine may have no package lists yet: read them once, then try again.
"${install[@]}" > /dev/null || { "${sudo[@]}" apt-get update -q > /dev/null && "${install[@]}" > /dev/null; }
chromium --version 2> /dev/null  # (Debian's wrapper script warns on stderr)
