#!/usr/bin/env bash
# Builds the kpki binary (debug, or release with --release) and prints its path. The path depends
# on .cargo/config.toml's build.target (target/<triple>/…) and on CARGO_TARGET_DIR, so scripts ask
# cargo instead of guessing. Build messages go to stderr; stdout is only the path.
# --musl builds the static musl executable instead (the release build to copy to nodes; needs the
# x86_64-unknown-linux-musl target and musl-gcc: scripts/install-musl.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
# --musl-available only answers (exit 0 or 1) whether --musl can build here.
musl_ok() { rustup target list --installed 2>/dev/null | grep -x x86_64-unknown-linux-musl >/dev/null &&
  command -v musl-gcc >/dev/null; }
[ "${1:-}" = --musl-available ] && { musl_ok; exit; }
args=()
for a in "$@"; do
  if [ "$a" = --musl ]; then
    musl_ok ||
      { echo "kpki-bin: --musl needs the x86_64-unknown-linux-musl target and musl-gcc (bash scripts/install-musl.sh)" >&2; exit 1; }
    args+=(--target x86_64-unknown-linux-musl)
  else
    args+=("$a")
  fi
done
path=$(cargo build --locked --bin kpki "${args[@]}" --message-format=json-render-diagnostics |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "kpki" and .executable != null) | .executable' |
  tail -1)
[ -x "$path" ] || { echo "kpki-bin: cargo did not report a kpki executable" >&2; exit 1; }
echo "$path"
