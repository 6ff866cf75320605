#!/usr/bin/env bash
# Builds the kpki binary (debug, or release with --release) and prints its path. The path depends
# on .cargo/config.toml's build.target (target/<triple>/…) and on CARGO_TARGET_DIR, so scripts ask
# cargo instead of guessing. Build messages go to stderr; stdout is only the path.
set -euo pipefail
cd "$(dirname "$0")/.."
path=$(cargo build --locked --bin kpki "$@" --message-format=json-render-diagnostics |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "kpki" and .executable != null) | .executable' |
  tail -1)
[ -x "$path" ] || { echo "kpki-bin: cargo did not report a kpki executable" >&2; exit 1; }
echo "$path"
