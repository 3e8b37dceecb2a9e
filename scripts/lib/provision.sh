# How every provisioned tool lands in the cache; sourced, not run (POSIX sh).
#
#   provision NAME BUILD_FUNCTION   prints the path of $CACHE_DIR/NAME, built once
#
# BUILD_FUNCTION is called with an empty staging directory to fill. The staging directory is renamed
# to NAME only when it succeeds, and NAME/.complete marks a finished tool, so a build cut short (a
# killed run, a full disk) leaves nothing that looks usable: the next run removes it and builds again.
# A lock per tool (flock) lets two processes that need it at once (two terminals, `npm run dev` beside
# `npm test`) build it once: the second waits, then finds it complete.

CACHE_DIR=${BEHAVIOR_INGEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/behavior-ingest}

provision() { # name, build function
  target="$CACHE_DIR/$1"
  if [ ! -f "$target/.complete" ]; then
    mkdir -p "$CACHE_DIR"
    (
      flock 9
      if [ ! -f "$target/.complete" ]; then
        # Holding the lock, nothing else builds this tool: what is here is left by a run that died.
        rm -rf "$target" "$CACHE_DIR/.$1".staging.*
        staging=$(mktemp -d "$CACHE_DIR/.$1.staging.XXXXXX")
        if ! "$2" "$staging" >&2; then
          rm -rf "$staging"
          echo "error: provisioning $1 failed (see above)" >&2
          exit 1
        fi
        touch "$staging/.complete"
        mv "$staging" "$target"
      fi
    ) 9>"$CACHE_DIR/.$1.lock" || return 1
  fi
  echo "$target"
}

# Only looks a tool up: for tests and commands that must not build anything themselves.
provisioned() { # name
  [ -f "$CACHE_DIR/$1/.complete" ] || {
    echo "error: $1 is not provisioned in $CACHE_DIR; run sh scripts/provision.sh (npm test does)" >&2
    return 1
  }
  echo "$CACHE_DIR/$1"
}
