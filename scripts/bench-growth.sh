#!/usr/bin/env bash
# Growth benchmark (issue 5): /sign throughput with 1,000,000 certificates in the database against
# an empty one (same run, same CA/CSR, wrk -t2 -c4), lookup by serial over HTTP (p50), a page of
# `kpki certs -expiring 30d`, and a CRL over the ~100,000 revoked rows (every 10th), all against
# kpki's own database. The filler is the hidden `kpki bench-fill` command.
#   ROWS=1000000 DUR=5 KPKI_BIN=path bash scripts/bench-growth.sh
set -euo pipefail
ROWS=${ROWS:-1000000}; DUR=${DUR:-5}
cd "$(dirname "$0")/.."
KPKI=${KPKI_BIN:-$(bash scripts/kpki-bin.sh --release)}
for t in wrk sqlite3 curl jq; do command -v $t >/dev/null || { echo "$t is required"; exit 1; }; done
work=$(mktemp -d); pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
echo '{"CN":"growth CA","key":{"algo":"ecdsa","size":256}}' > ca-csr.json
"$KPKI" gencert -initca ca-csr.json 2>/dev/null | "$KPKI" json -bare ca
aki=$("$KPKI" certinfo ca.pem | jq -r '.subject_key_id' | tr -d ':' | tr 'A-F' 'a-f')
echo '{"signing":{"default":{"expiry":"8760h"},"profiles":{"www":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]}}}}' > cfg.json
echo '{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"]}' | "$KPKI" genkey - | "$KPKI" json -bare leaf
printf '{"certificate_request":%s,"profile":"www"}' "$(jq -Rs . < leaf.csr)" > body.json
cat > load.lua <<'LUA'
local f = io.open("body.json", "r"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
LUA
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
serve() { # db-url -> starts kpki serve, sets $pid and $port
  port=$((20000 + RANDOM % 20000))
  "$KPKI" serve -ca ca.pem -ca-key ca-key.pem -config cfg.json -db "$1" -port "$port" -loglevel 3 2>serve.log & pid=$!
  for _ in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$port/api/v1/cfssl/health" && return 0; sleep 0.1; done
  cat serve.log; exit 1
}
stop() { kill "$pid"; wait "$pid" || true; pid=; }
rps() { wrk -t2 -c4 -d"${DUR}s" -s load.lua "http://127.0.0.1:$port/api/v1/cfssl/sign" | awk '/Requests\/sec/ {print $2}'; }

"$KPKI" certs -db "sqlite://$work/empty.db" >/dev/null
"$KPKI" bench-fill -db "sqlite://$work/full.db" -rows "$ROWS" -revoked-every 10 -aki "$aki"
sqlite3 full.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
echo "database: $(du -h full.db | cut -f1), $(sqlite3 full.db 'select count(*) from certificates') rows, $(sqlite3 full.db "select count(*) from certificates where status='revoked'") revoked"

# /sign, alternating empty and full three times; medians.
e=(); f=()
for _ in 1 2 3; do
  serve "sqlite://$work/empty.db"; e+=("$(rps)"); stop
  serve "sqlite://$work/full.db"; f+=("$(rps)"); stop
done
em=$(printf '%s\n' "${e[@]}" | median); fm=$(printf '%s\n' "${f[@]}" | median)
echo "/sign: empty database ${e[*]} req/s, with $ROWS rows ${f[*]} req/s; ratio full/empty $(echo "scale=3; $fm / $em" | bc) (target >= 0.90)"

# Lookup by serial over HTTP: one curl, one kept-alive connection, curl's per-request timing.
serve "sqlite://$work/full.db"
sqlite3 full.db "select serial_number from certificates order by random() limit 200" |
  sed "s|^|http://127.0.0.1:$port/api/v1/kpki/certificates/|" > urls.txt
# shellcheck disable=SC2046
curl -s -o /dev/null -w '%{time_total}\n' $(cat urls.txt) > lookup.txt
stop
echo "lookup by serial over HTTP: p50 $(awk '{print $1*1000}' lookup.txt | median) ms over 200 random serials (target < 1 ms)"

# A page of `certs -expiring 30d` (whole command, process start included), median of 5.
for _ in 1 2 3 4 5; do
  s=$(date +%s%N); "$KPKI" certs -db "sqlite://$work/full.db" -expiring 30d >/dev/null; t=$(date +%s%N)
  echo $(( (t - s) / 1000 ))
done | median | awk '{printf "kpki certs -expiring 30d (first page of 100): %.1f ms (target < 50 ms)\n", $1/1000}'

# CRL over the revoked rows (whole command), median of 3.
for _ in 1 2 3; do
  s=$(date +%s%N); "$KPKI" crl -db "sqlite://$work/full.db" -ca ca.pem -ca-key ca-key.pem > crl.b64; t=$(date +%s%N)
  echo $(( (t - s) / 1000 ))
done | median | awk '{printf "kpki crl: %.0f ms (target < 1000 ms)\n", $1/1000}'
base64 -d crl.b64 > crl.der
echo "CRL entries: $(openssl crl -inform DER -in crl.der -noout -text | grep -c 'Serial Number:'), verified: $(openssl crl -inform DER -in crl.der -CAfile ca.pem -noout 2>&1)"
