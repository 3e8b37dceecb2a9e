#!/usr/bin/env bash
# Prints the path of a Python interpreter with test/python/requirements.txt installed, in a virtual
# environment cached outside the repo (keyed by the requirements) and created on first use.
set -euo pipefail
. "$(dirname "$0")/lib/service.sh"
require python3 "for the cross-language gRPC client test" "Install Python 3.9 or newer with venv."
requirements="$ROOT/test/python/requirements.txt"
venv="$CACHE_DIR/python-$(cksum <"$requirements" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  say "creating a Python environment for the tests in $venv (once)"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  touch "$venv/.complete"
fi
echo "$venv/bin/python"
