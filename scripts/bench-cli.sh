#!/usr/bin/env bash
# Times `gencert -ca … -profile www csr.json | json -bare out` for a P-256 leaf, N runs each, for
# kpki (release build) and, when installed, cfssl + cfssljson, run alternately in one session.
# Prints ms per certificate for each and the ratio kpki/cfssl, plus the loop's own floor
# (`/bin/true | /bin/true`, two process starts and nothing else). KPKI_OTHER=path adds a second kpki
# build to the same rounds (before/after comparisons). ROUNDS=3 (odd; the median is reported).
set -euo pipefail
shopt -s inherit_errexit
N=${N:-200}
cd "$(dirname "$0")/.."
root=$(pwd)
# The release build measured by default: the static musl one when its target is installed
# (README "Release build"), else the glibc one. KPKI_BIN=path measures another.
if [ -z "${KPKI_BIN:-}" ] && bash scripts/kpki-bin.sh --musl-available; then
  KPKI=$(bash scripts/kpki-bin.sh --release --musl)
else
  KPKI=${KPKI_BIN:-$(bash scripts/kpki-bin.sh --release)}
fi
echo "kpki build: $KPKI"
work=$(mktemp -d -p "${BENCH_DIR:-${TMPDIR:-/tmp}}"); trap 'rm -rf "$work"' EXIT
cd "$work"
echo '{"CN":"bench CA","key":{"algo":"ecdsa","size":256}}' > ca-csr.json
echo '{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"],"key":{"algo":"ecdsa","size":256}}' > csr.json
echo '{"signing":{"default":{"expiry":"8760h"},"profiles":{"www":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]}}}}' > cfg.json
"$KPKI" gencert -initca ca-csr.json 2>/dev/null | "$KPKI" json -bare ca
# Each run writes new files ($out/N.pem …), as a real workflow does. Overwriting existing files
# costs both tools an ext4 data flush (auto_da_alloc on rename/truncate over an existing file).
# Nothing is deleted until the script exits: every timed loop writes into a directory of its own.
# On an ext4 without a journal (this VM's root) creating a file right after many deletions costs
# ~0.5 ms (the allocator skips inodes freed in the last 60-360 s, reading each one's dtime), so a
# `rm` between rounds would add that to both tools and measure the file system, not the tools.
run_kpki() { "$KPKI" gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null | "$KPKI" json -bare "$out/$1"; }
run_other() { "$KPKI_OTHER" gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null | "$KPKI_OTHER" json -bare "$out/$1"; }
run_floor() { /bin/true | /bin/true; }
run_cfssl() { cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null | cfssljson -bare "$out/$1"; }
time_n() { # fn -> milliseconds per run
  local fn=$1 start end
  # A directory of its own for every loop. (time_n runs in a command substitution, a subshell, so
  # a counter incremented here would not survive to the next call: mktemp picks the name.)
  out=$(mktemp -d -p "$work" loop-XXXXXX)
  start=$(date +%s%N); for i in $(seq "$N"); do $fn "$i"; done; end=$(date +%s%N)
  echo "scale=3; ($end - $start) / 1000000 / $N" | bc
}
out=$work; run_kpki check; openssl verify -CAfile ca.pem check.pem >/dev/null
# The release build lays out the functions CLI calls execute together (build.rs,
# scripts/symbol-order.txt); say how much of what this binary executes that list still names.
if command -v valgrind >/dev/null; then
  KPKI_BIN=$KPKI bash "$root/scripts/symbol-order.sh" --check || true
fi
ROUNDS=${ROUNDS:-3}
have_cfssl=0; command -v cfssl >/dev/null && command -v cfssljson >/dev/null && have_cfssl=1
k=(); c=(); o=(); f=()
for round in $(seq "$ROUNDS"); do
  k+=("$(time_n run_kpki)")
  [ -n "${KPKI_OTHER:-}" ] && o+=("$(time_n run_other)")
  [ $have_cfssl = 1 ] && c+=("$(time_n run_cfssl)")
  f+=("$(time_n run_floor)")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
km=$(median "${k[@]}"); fm=$(median "${f[@]}")
echo "kpki  gencert|json -bare: ${km} ms/cert (median of $ROUNDS rounds of $N; rounds: ${k[*]})"
[ -n "${KPKI_OTHER:-}" ] && echo "other gencert|json -bare: $(median "${o[@]}") ms/cert (rounds: ${o[*]}; $KPKI_OTHER)"
echo "floor /bin/true|/bin/true: ${fm} ms (rounds: ${f[*]})"
if [ $have_cfssl = 1 ]; then
  cm=$(median "${c[@]}")
  echo "cfssl gencert|cfssljson -bare: ${cm} ms/cert (rounds: ${c[*]})"
  echo "ratio kpki/cfssl: $(echo "scale=3; $km / $cm" | bc)  (target <= 0.200)"
  [ -n "${KPKI_OTHER:-}" ] && echo "ratio other/cfssl: $(echo "scale=3; $(median "${o[@]}") / $cm" | bc)"
  echo "floor/cfssl: $(echo "scale=3; $fm / $cm" | bc)  (what two process starts alone cost, as a ratio)"
else
  echo "cfssl not installed: no comparison"
fi
