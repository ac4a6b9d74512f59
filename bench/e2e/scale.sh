#!/usr/bin/env bash
# Raises the open-file limit (the hard limit too, where we are allowed to), then runs scale.mjs:
# one server process holds one descriptor per connection.
set -euo pipefail
ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node "$(dirname "$0")/scale.mjs" "$@"
