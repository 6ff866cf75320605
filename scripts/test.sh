#!/usr/bin/env bash
# The test command (README): installs missing outside programs, then runs the whole suite on
# debug builds. Tests needing openssl/etcd/cfssl/kubectl/pkilint skip loudly when those are
# missing on a developer box, and fail instead under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --locked --all-targets
if [ -x scripts/api-conformance.sh ]; then
  bash scripts/api-conformance.sh
fi
