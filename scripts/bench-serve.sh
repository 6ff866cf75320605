#!/usr/bin/env bash
# Side-by-side load test of `kpki serve` and `cfssl serve` (Debian golang-cfssl) with the same CA,
# config and CSR, one server at a time, both recording to SQLite (cfssl uses a database whose
# schema kpki created — the same cfssl certdb columns). wrk drives each with 2 threads and 4
# connections for DUR seconds, ROUNDS times; every reply must be 200 + success:true, and every
# certificate kpki returned must be in its database. Prints req/s, p50, p99, medians and ratios.
#   CA=ecdsa|rsa  ENDPOINT=sign|newcert  DUR=10  ROUNDS=3  bash scripts/bench-serve.sh
# KPKI_SYNC=full (default: each reply waits for its fsynced commit) | normal (survives a kpki
# crash, not a machine crash). CFSSL_DB=delete (default: the rollback-journal certdb cfssl's own
# migrations create) | wal (the same file in WAL mode) | none (cfssl records nothing).
# LIMIT=1 (ENDPOINT=sign): after each kpki round, also runs the criterion benchmark of the same
# signing path on every core at once (benches/signing.rs, "sign_p256_leaf_csr_N_threads") and
# prints kpki's /sign throughput as a share of that in-process limit, measured back to back.
set -euo pipefail
CA_ALGO=${CA:-ecdsa}; ENDPOINT=${ENDPOINT:-sign}; DUR=${DUR:-10}; ROUNDS=${ROUNDS:-3}
KPKI_SYNC=${KPKI_SYNC:-full}; CFSSL_DB=${CFSSL_DB:-delete}
cd "$(dirname "$0")/.."
KPKI=${KPKI_BIN:-$(bash scripts/kpki-bin.sh --release)}
LIMIT=${LIMIT:-0}; benchbin=
if [ "$LIMIT" = 1 ]; then
  benchbin=$(cargo bench --bench signing --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason=="compiler-artifact" and .target.name=="signing" and .executable!=null) | .executable' | tail -1)
  [ -x "$benchbin" ] || { echo "could not build benches/signing.rs"; exit 1; }
fi
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
if [ "$CA_ALGO" = rsa ]; then key='{"algo":"rsa","size":2048}'; else key='{"algo":"ecdsa","size":256}'; fi
echo "{\"CN\":\"bench CA\",\"key\":$key}" > ca-csr.json
"$KPKI" gencert -initca ca-csr.json 2>/dev/null | "$KPKI" json -bare ca
echo '{"signing":{"default":{"expiry":"8760h"},"profiles":{"www":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]}}}}' > cfg.json
echo '{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"]}' | "$KPKI" genkey - | "$KPKI" json -bare leaf
if [ "$ENDPOINT" = sign ]; then
  printf '{"certificate_request":%s,"profile":"www"}' "$(jq -Rs . < leaf.csr)" > body.json
else
  echo '{"request":{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"],"key":{"algo":"ecdsa","size":256}},"profile":"www"}' > body.json
fi
cat > load.lua <<'LUA'
local f = io.open("body.json", "r"); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
local threads = {}
function setup(t) table.insert(threads, t) end
function init(args) bad = 0; good = 0 end
function response(status, headers, body)
  if status == 200 and string.find(body, '"success":true', 1, true) then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local b, g = 0, 0
  for _, t in ipairs(threads) do b = b + t:get("bad"); g = g + t:get("good") end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f good=%d bad=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    g, b, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
LUA
wait_up() { for _ in $(seq 100); do curl -s -m 1 -o /dev/null "http://127.0.0.1:$1/api/v1/cfssl/${2:-health}" && return 0; sleep 0.1; done; return 1; }
run_load() { wrk -t2 -c4 -d"${DUR}s" --latency -s load.lua "http://127.0.0.1:$1/api/v1/cfssl/$ENDPOINT" | grep RESULT; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
k_rps=(); k_p50=(); k_p99=(); c_rps=(); c_p50=(); c_p99=(); rss=(); limit=(); share=()
# certificates per second of the in-process path on all cores (criterion's median estimate)
in_process_limit() {
  local ca=ca_p256; [ "$CA_ALGO" = rsa ] && ca=ca_rsa2048
  "$benchbin" --bench "sign_p256_leaf_csr_[0-9]+_threads/$ca\$" --measurement-time 3 --warm-up-time 1 --noplot 2>/dev/null |
    awk '/time:/ { v=$4; u=$5; f=(u=="ns")?1e-3:(u=="ms")?1e3:(u=="s")?1e6:1; printf "%.0f", 1e6/(v*f) }'
}
have_cfssl=0; command -v cfssl >/dev/null && have_cfssl=1
for round in $(seq "$ROUNDS"); do
  rm -f kpki.db* cfssl.db*
  port=$((20000 + RANDOM % 20000))
  "$KPKI" serve -ca ca.pem -ca-key ca-key.pem -config cfg.json -db "sqlite://$work/kpki.db?synchronous=$KPKI_SYNC" -port "$port" -loglevel 3 2>kpki.log & kp=$!; pids+=("$kp")
  wait_up "$port" || { cat kpki.log; exit 1; }
  r=$(run_load "$port"); echo "kpki  round $round: $r"
  rss+=("$(awk '/VmHWM/ {print $2}' /proc/$kp/status)")
  kill "$kp"; wait "$kp" || true
  good=$(echo "$r" | field good); bad=$(echo "$r" | field bad)
  rows=$(sqlite3 kpki.db 'select count(*) from certificates')
  [ "$bad" = 0 ] || { echo "FAIL: kpki answered $bad requests without success"; exit 1; }
  [ "$rows" -ge "$good" ] || { echo "FAIL: kpki returned $good certificates but its database has $rows"; exit 1; }
  k_rps+=("$(echo "$r" | field rps)"); k_p50+=("$(echo "$r" | field p50_ms)"); k_p99+=("$(echo "$r" | field p99_ms)")
  if [ "$LIMIT" = 1 ]; then
    l=$(in_process_limit); limit+=("$l")
    share+=("$(echo "scale=3; $(echo "$r" | field rps) / $l" | bc)")
    echo "in-process limit round $round: $l certs/s on all cores; kpki /$ENDPOINT share ${share[-1]}"
  fi
  if [ $have_cfssl = 1 ]; then
    dbflag=()
    if [ "$CFSSL_DB" != none ]; then
      "$KPKI" certs -db "sqlite://$work/cfssl.db" >/dev/null   # creates cfssl's certdb schema
      [ "$CFSSL_DB" = delete ] && sqlite3 cfssl.db 'PRAGMA journal_mode=DELETE' >/dev/null
      echo "{\"driver\":\"sqlite3\",\"data_source\":\"$work/cfssl.db\"}" > db.json
      dbflag=(-db-config db.json)
    fi
    port=$((20000 + RANDOM % 20000))
    cfssl serve -ca ca.pem -ca-key ca-key.pem -config cfg.json "${dbflag[@]}" -port "$port" -loglevel 5 2>cfssl.log & cp=$!; pids+=("$cp")
    wait_up "$port" sign || { cat cfssl.log; exit 1; }
    r=$(run_load "$port"); echo "cfssl round $round: $r"
    kill "$cp"; wait "$cp" || true
    c_rps+=("$(echo "$r" | field rps)"); c_p50+=("$(echo "$r" | field p50_ms)"); c_p99+=("$(echo "$r" | field p99_ms)")
  fi
done
echo
echo "== /$ENDPOINT, $CA_ALGO CA, wrk -t2 -c4 -d${DUR}s, median of $ROUNDS rounds; kpki synchronous=$KPKI_SYNC, cfssl db=$CFSSL_DB"
km=$(median "${k_rps[@]}")
echo "kpki : $km req/s  p50 $(median "${k_p50[@]}") ms  p99 $(median "${k_p99[@]}") ms  peak RSS $(median "${rss[@]}") kB"
if [ "$LIMIT" = 1 ]; then
  echo "in-process limit: $(median "${limit[@]}") certs/s; share of it: $(median "${share[@]}") (per round: ${share[*]}; target >= 0.60)"
fi
if [ $have_cfssl = 1 ]; then
  cm=$(median "${c_rps[@]}")
  echo "cfssl: $cm req/s  p50 $(median "${c_p50[@]}") ms  p99 $(median "${c_p99[@]}") ms"
  echo "ratio kpki/cfssl throughput: $(echo "scale=2; $km / $cm" | bc)x"
fi
