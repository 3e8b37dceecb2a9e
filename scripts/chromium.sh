#!/bin/sh
# Debian's Chromium for the browser test (no tool may download a browser of its own): installed when
# missing and this user may run apt-get; otherwise says how, and the browser test names the problem.
set -eu
path="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$path" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
else
  echo "warning: no Chromium at $path; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH" >&2
fi
