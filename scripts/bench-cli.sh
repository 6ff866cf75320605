#!/usr/bin/env bash
# Times `gencert -ca … -profile www csr.json | json -bare out` for a P-256 leaf, N runs each, for
# kpki (release build) and, when installed, cfssl + cfssljson, run alternately in one session.
# Prints ms per certificate for each and the ratio kpki/cfssl.
set -euo pipefail
N=${N:-200}
cd "$(dirname "$0")/.."
if [ -z "${KPKI_BIN:-}" ]; then cargo build --release --quiet; fi
KPKI=${KPKI_BIN:-$PWD/target/release/kpki}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
echo '{"CN":"bench CA","key":{"algo":"ecdsa","size":256}}' > ca-csr.json
echo '{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"],"key":{"algo":"ecdsa","size":256}}' > csr.json
echo '{"signing":{"default":{"expiry":"8760h"},"profiles":{"www":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]}}}}' > cfg.json
"$KPKI" gencert -initca ca-csr.json 2>/dev/null | "$KPKI" json -bare ca
# Each run writes new files (out-N.pem …), as a real workflow does. Overwriting existing files
# costs both tools an ext4 data flush (auto_da_alloc on rename/truncate over an existing file).
run_kpki() { "$KPKI" gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null | "$KPKI" json -bare "out-k$1"; }
run_cfssl() { cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null | cfssljson -bare "out-c$1"; }
time_n() { # fn -> milliseconds per run
  local fn=$1 start end
  rm -f out-*
  start=$(date +%s%N); for i in $(seq "$N"); do $fn "$i"; done; end=$(date +%s%N)
  echo "scale=3; ($end - $start) / 1000000 / $N" | bc
}
run_kpki 0; openssl verify -CAfile ca.pem out-k0.pem >/dev/null
have_cfssl=0; command -v cfssl >/dev/null && command -v cfssljson >/dev/null && have_cfssl=1
k=(); c=()
for round in 1 2 3; do
  k+=("$(time_n run_kpki)")
  [ $have_cfssl = 1 ] && c+=("$(time_n run_cfssl)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
km=$(median "${k[@]}")
echo "kpki  gencert|json -bare: ${km} ms/cert (median of 3 rounds of $N; rounds: ${k[*]})"
if [ $have_cfssl = 1 ]; then
  cm=$(median "${c[@]}")
  echo "cfssl gencert|cfssljson -bare: ${cm} ms/cert (rounds: ${c[*]})"
  echo "ratio kpki/cfssl: $(echo "scale=3; $km / $cm" | bc)  (target <= 0.200)"
else
  echo "cfssl not installed: no comparison"
fi
