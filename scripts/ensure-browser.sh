#!/usr/bin/env bash
# Headless Chromium for the test that screenshots the gradebook page (tests/test_gradebook.py).
# On a fresh Debian machine as root: install Debian's chromium and a font. Elsewhere: say what to
# install. Exit 3 (infrastructure) when it cannot be done.
set -euo pipefail
if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing chromium (for the gradebook page's screenshot test) ..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
command -v chromium >/dev/null || {
  echo "chromium is missing: apt-get install chromium (the gradebook page's screenshot test needs it)" >&2
  exit 3
}
