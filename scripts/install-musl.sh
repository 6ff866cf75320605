#!/usr/bin/env bash
# Installs what the static musl release build needs (scripts/kpki-bin.sh --release --musl): rustup's
# x86_64-unknown-linux-musl target (Rust's standard library for musl, from static.rust-lang.org)
# and Debian's musl-tools (musl-gcc, for AWS-LC's, SQLite's and mimalloc's C). Idempotent; exits 1
# when either cannot be installed (e.g. no route to static.rust-lang.org).
set -euo pipefail
if ! command -v musl-gcc >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musl-tools >/dev/null
  else
    echo "install-musl: please install musl-tools" >&2
    exit 1
  fi
fi
rustup target list --installed | grep -qx x86_64-unknown-linux-musl ||
  rustup target add x86_64-unknown-linux-musl
