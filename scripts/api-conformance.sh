#!/usr/bin/env bash
# API conformance: builds kpki, starts `kpki serve` on a fresh data dir and a free loopback
# port, then (1) fuzzes every operation in openapi.yaml with schemathesis (schema-valid and
# schema-invalid requests; checks: no 5xx, documented status / content type / headers / body
# shape, invalid input rejected, 405 + Allow for undocumented methods) and (2) walks the
# stateful flows random data cannot reach (issue → list → look up → revoke → CRL, authsign with
# a real HMAC, limits and error paths), validating every response against openapi.yaml.
# Exits non-zero on any failure. Needs schemathesis 4.x (pip install schemathesis).
#
# Environment: KPKI_CONFORMANCE_EXAMPLES (default 30 per operation), KPKI_CONFORMANCE_SEED
# (default fixed; "random" for a new one each run), KPKI_CONFORMANCE_PORT (default: a free one).
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${KPKI_CONFORMANCE_EXAMPLES:-30}"
seed="${KPKI_CONFORMANCE_SEED:-20261122}"
if [ "$seed" = random ]; then
  seed=$((RANDOM * 32768 + RANDOM))
fi

if ! command -v schemathesis >/dev/null; then
  if [ "${CI:-}" = true ]; then
    echo "api-conformance: FAIL: schemathesis is not installed" >&2
    exit 1
  fi
  echo "api-conformance: SKIPPED: schemathesis is not installed (pip install schemathesis)" >&2
  exit 0
fi
st_version="$(schemathesis --version | awk '{print $NF}')"
case "$st_version" in
  4.*) ;;
  *)
    # The CLI flags, config keys and hooks used below are schemathesis 4's.
    echo "api-conformance: FAIL: schemathesis $st_version found, this script needs 4.x" >&2
    exit 1
    ;;
esac

bin="$(bash scripts/kpki-bin.sh)"

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "api-conformance: server did not stop within 5s of SIGTERM; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$rc" != 0 ] && [ -f "$tmp/server.log" ]; then
    if grep -q "panicked at" "$tmp/server.log"; then
      echo "api-conformance: server panics:" >&2
      grep -A1 "panicked at" "$tmp/server.log" | grep -v '^--$' | sed 's/ ([0-9]*) panicked/ panicked/' | sort | uniq -c >&2 || true
    fi
    echo "api-conformance: last server log lines:" >&2
    grep -v "INFO request" "$tmp/server.log" | tail -n 20 >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="${KPKI_CONFORMANCE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
base="http://127.0.0.1:$port"

# A profile with an auth key, so authsign and wrapped requests can succeed for real.
auth_key_hex="0123456789abcdef0123456789abcdef"
cat >"$tmp/config.json" <<EOF
{
  "signing": {
    "default": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
    "profiles": {
      "server": {"expiry": "720h", "usages": ["signing", "key encipherment", "server auth"]},
      "authed": {"expiry": "720h", "usages": ["signing", "key encipherment", "client auth"],
                 "auth_key": "conformance"}
    }
  },
  "auth_keys": {"conformance": {"type": "standard", "key": "$auth_key_hex"}}
}
EOF

RUST_BACKTRACE=0 "$bin" serve -data-dir "$tmp/data" -config "$tmp/config.json" -port "$port" -address 127.0.0.1 \
  >"$tmp/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 100); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "api-conformance: FAIL: kpki serve exited during startup" >&2
    exit 1
  fi
  if curl -sf -m 2 -o /dev/null "$base/api/v1/cfssl/health"; then
    ready=1
    break
  fi
  sleep 0.2
done
if [ -z "$ready" ]; then
  echo "api-conformance: FAIL: $base/api/v1/cfssl/health did not answer within the startup window" >&2
  exit 1
fi
echo "api-conformance: kpki serve is up on $base (pid $server_pid)"

# certinfo's `domain` makes the server dial a TLS host; random hostnames would send DNS lookups
# and connections to the outside world. The hook blanks generated domains (the 502 path is
# probed below against a closed local port instead).
mkdir -p "$tmp/hooks"
cat >"$tmp/hooks/kpki_conformance_hooks.py" <<'EOF'
import schemathesis


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.path == "/api/v1/cfssl/certinfo" and isinstance(case.body, dict):
        for key in list(case.body):
            if key.lower() == "domain" and isinstance(case.body[key], str):
                case.body[key] = ""
EOF

# No crash cache: schemathesis would otherwise write .schemathesis/ into the repository.
printf '[cache]\nenabled = false\n' >"$tmp/schemathesis.toml"

echo "api-conformance: schemathesis $st_version, $examples examples per operation, seed $seed"
# positive_data_acceptance is left out: a schema cannot say "a PEM CSR signed by its own key" or
# "a serial on record", so most schema-valid requests are rightly refused with 400/404.
# One worker: with several, hypothesis's lambda-source parsing races in CPython 3.11's `ast`
# ("AST constructor recursion depth mismatch") and aborts an operation's coverage phase.
st_rc=0
PYTHONPATH="$tmp/hooks${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=kpki_conformance_hooks \
  timeout 240 schemathesis --config-file "$tmp/schemathesis.toml" run openapi.yaml \
  --url "$base" \
  --checks all \
  --exclude-checks positive_data_acceptance \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --no-color || st_rc=$?

echo "api-conformance: stateful and edge-case probes"
probe_rc=0
KPKI_BASE="$base" KPKI_AUTH_KEY="$auth_key_hex" timeout 120 python3 - <<'EOF' || probe_rc=$?
import base64, hashlib, hmac, http.client, json, os, re, sys, time, urllib.error, urllib.request

import jsonschema, yaml

BASE = os.environ["KPKI_BASE"]
KEY = bytes.fromhex(os.environ["KPKI_AUTH_KEY"])
spec = yaml.safe_load(open("openapi.yaml"))
failures = []


def deref(node):
    """Follows a whole-node `$ref` inside the spec."""
    while isinstance(node, dict) and set(node) == {"$ref"}:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def template(path):
    for p in spec["paths"]:
        if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)), path):
            return p
    return None


def call(method, path, body=None, raw=None, headers=None, label=None):
    url = BASE + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, hdrs, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    except (OSError, http.client.HTTPException) as e:
        # no HTTP answer at all: the handler panicked (no catch-panic layer) or the server died
        failures.append(f"{label or method + ' ' + path}: no response ({e!r}); see the server log")
        return None, {}, None
    label = label or f"{method} {path.split('?')[0]}"
    check(method, path, status, hdrs, text, label)
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    return status, hdrs, doc


def check(method, path, status, hdrs, text, label):
    """The response must be documented for the operation and match its schema."""
    if status >= 500 and status != 502:
        failures.append(f"{label}: server error {status}: {text[:300]!r}")
    tpl = template(path.split("?")[0])
    op = spec["paths"].get(tpl, {}).get(method.lower()) if tpl else None
    ctype = (hdrs.get("Content-Type") or "").split(";")[0].strip()
    if op is None:
        # undocumented path or method: the fallbacks answer 404 / 405 in the envelope
        want = 404 if tpl is None else 405
        if status != want or ctype != "application/json":
            failures.append(f"{label}: expected {want} application/json, got {status} {ctype}")
        if status == 405 and not hdrs.get("Allow"):
            failures.append(f"{label}: 405 without an Allow header")
        schema = deref(spec["components"]["responses"]["NotFound" if want == 404 else "MethodNotAllowed"])
        media = schema["content"]["application/json"]["schema"]
    else:
        resp = op["responses"].get(str(status))
        if resp is None:
            failures.append(f"{label}: status {status} is not documented: {text[:300]!r}")
            return
        resp = deref(resp)
        content = resp.get("content", {})
        if ctype not in content:
            failures.append(f"{label}: content type {ctype!r} not documented for {status}")
            return
        media = content[ctype]["schema"]
        if ctype != "application/json":
            return
    try:
        doc = json.loads(text)
    except ValueError:
        failures.append(f"{label}: body is not JSON: {text[:200]!r}")
        return
    validator = jsonschema.Draft202012Validator(
        {**spec, **media}, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errs[:3]:
        failures.append(f"{label}: {status} body does not match the spec at "
                        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}")


def short(v):
    text = json.dumps(v)
    return text if len(text) <= 240 else text[:240] + "…"


def expect(cond, what):
    if not cond:
        failures.append(what)


def wrap(inner, ts=None):
    raw = json.dumps(inner).encode()
    return {
        "token": base64.b64encode(hmac.new(KEY, raw, hashlib.sha256).digest()).decode(),
        "request": base64.b64encode(raw).decode(),
        "timestamp": int(time.time()) if ts is None else ts,
        "remote_address": base64.b64encode(b"127.0.0.1").decode(),
    }


# issue → describe → list → look up → revoke → CRL
s, _, d = call("POST", "/api/v1/cfssl/newcert",
               {"request": {"CN": "conformance.example", "hosts": ["conformance.example"]},
                "profile": "server"})
expect(s == 200, f"newcert: {s} {short(d)}")
cert = d["result"]["certificate"] if s == 200 else None
serial = aki = None
if cert:
    s, _, d = call("POST", "/api/v1/cfssl/certinfo", {"certificate": cert})
    expect(s == 200, f"certinfo pem: {s} {short(d)}")
    if s == 200:
        serial = d["result"]["serial_number"]
        aki = d["result"]["authority_key_id"]
s, _, d = call("POST", "/api/v1/cfssl/newkey", {"CN": "k.example", "key": {"algo": "rsa", "size": 2048}})
expect(s == 200, f"newkey rsa: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/newcert", {"request": {"CN": "nohosts.example"}})
expect(s == 200 and any(m["code"] == 5300 for m in d["messages"]), f"newcert without hosts: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/info", raw=b"", label="POST /api/v1/cfssl/info (empty body)")
expect(s == 200, f"info with an empty body: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/info", {"profile": "server"})
expect(s == 200 and d["result"]["expiry"], f"info server: {s} {short(d)}")
s, _, d = call("GET", "/api/v1/kpki/certificates?limit=1")
expect(s == 200 and len(d["result"]["certificates"]) == 1 and d["result"]["next"], f"list limit=1: {s} {short(d)}")
if s == 200 and d["result"]["next"]:
    s, _, d = call("GET", "/api/v1/kpki/certificates?limit=1&after=" + d["result"]["next"])
    expect(s == 200 and len(d["result"]["certificates"]) == 1, f"list page 2: {s} {short(d)}")
if serial:
    s, _, d = call("GET", f"/api/v1/kpki/certificates/{serial}")
    expect(s == 200 and d["result"]["certificates"][0]["serial_number"] == serial, f"get {serial}: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/certinfo", {"serial": serial, "authority_key_id": aki})
    expect(s == 200 and d["result"]["serial_number"] == serial, f"certinfo by serial: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/revoke", {"serial": serial, "authority_key_id": aki, "reason": "keyCompromise"})
    expect(s == 200 and d["result"] == {}, f"revoke: {s} {short(d)}")
    s, _, d = call("GET", "/api/v1/kpki/certificates?status=revoked")
    rows = [r for r in d["result"]["certificates"] if r["serial_number"] == serial] if s == 200 else []
    expect(rows and rows[0]["revoked_at"] and rows[0]["reason"] == 1, f"revoked row: {s} {short(rows)}")
s, _, d = call("GET", "/api/v1/cfssl/crl")
expect(s == 200, f"crl: {s} {short(d)}")
s, _, d = call("GET", "/api/v1/cfssl/crl?expiry=1h")
expect(s == 200, f"crl 1h: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/revoke", {"serial": "1", "authority_key_id": "00", "reason": 1})
expect(s == 404, f"revoke unknown: {s} {short(d)}")
s, _, d = call("GET", "/api/v1/kpki/certificates/1")
expect(s == 404, f"get unknown serial: {s} {short(d)}")

# authsign with a real HMAC; a replay and a wrong key are 401
csr = None
s, _, d = call("POST", "/api/v1/cfssl/newkey", {"CN": "client.example"})
if s == 200:
    csr = d["result"]["certificate_request"]
    env = wrap({"certificate_request": csr, "profile": "authed"})
    s, _, d = call("POST", "/api/v1/cfssl/authsign", env)
    expect(s == 200, f"authsign: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/authsign", env, label="POST /api/v1/cfssl/authsign (replay)")
    expect(s == 401, f"authsign replay: {s} {short(d)}")
    bad = wrap({"certificate_request": csr, "profile": "authed"})
    bad["token"] = base64.b64encode(b"\0" * 32).decode()
    s, _, d = call("POST", "/api/v1/cfssl/authsign", bad, label="POST /api/v1/cfssl/authsign (bad token)")
    expect(s == 401, f"authsign bad token: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/authsign", wrap({"certificate_request": csr, "profile": "authed"}, ts=1),
                   label="POST /api/v1/cfssl/authsign (stale)")
    expect(s == 401, f"authsign stale timestamp: {s} {short(d)}")
    for i, ts in enumerate([-(2**63), 2**63 - 1]):
        s, _, d = call("POST", "/api/v1/cfssl/authsign",
                       wrap({"certificate_request": csr, "profile": "authed", "label": f"ts{i}"}, ts=ts),
                       label=f"POST /api/v1/cfssl/authsign (timestamp {ts})")
        expect(s is None or s == 401, f"authsign with timestamp {ts}: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/sign", {"certificate_request": csr, "profile": "authed"})
    expect(s == 400, f"sign with an auth profile, unwrapped: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/sign", wrap({"certificate_request": csr, "profile": "authed", "label": "w"}),
                   label="POST /api/v1/cfssl/sign (wrapped)")
    expect(s == 200, f"sign wrapped: {s} {short(d)}")
    # A used token stays refused: the timestamp is not covered by the HMAC, so a captured request
    # re-sent later with a fresh timestamp must still be a replay.
    env = wrap({"certificate_request": csr, "profile": "authed", "label": "window"}, ts=int(time.time()) - 297)
    s, _, d = call("POST", "/api/v1/cfssl/authsign", env, label="POST /api/v1/cfssl/authsign (old timestamp)")
    expect(s == 200, f"authsign with a timestamp 297s old: {s} {short(d)}")
    time.sleep(5)
    env["timestamp"] = int(time.time())
    s, _, d = call("POST", "/api/v1/cfssl/authsign", env, label="POST /api/v1/cfssl/authsign (replay, new timestamp)")
    expect(s == 401, f"replay of a used token with a fresh timestamp was accepted: {s} {short(d)}")
    s, _, d = call("POST", "/api/v1/cfssl/sign", {"certificate_request": csr, "bundle": True, "hosts": ["a.example"]})
    expect(s == 200 and any(m["code"] == 5300 for m in d["messages"]), f"sign bundle: {s} {short(d)}")

# gencrl with a fresh CA, including extreme lifetimes
s, _, d = call("POST", "/api/v1/cfssl/init_ca", {"CN": "Conformance CA", "key": {"algo": "ecdsa", "size": 256}})
expect(s == 200, f"init_ca: {s} {short(d)}")
if s == 200:
    ca = d["result"]
    for exp in ["3600", "", "0", "-5", "9223372036854775807", "315537897600"]:
        s, _, d = call("POST", "/api/v1/cfssl/gencrl",
                       {"certificate": ca["certificate"], "issuingKey": ca["private_key"],
                        "serialNumber": ["1", "2"], "expireTime": exp},
                       label=f"POST /api/v1/cfssl/gencrl (expireTime {exp!r})")
        expect(s is None or s in (200, 400), f"gencrl expireTime {exp!r}: {s} {short(d)}")

# extreme durations in query strings
for q in ["expiry=2562047h", "expiry=100000000h", "expiry=-1h", "expiry=0s"]:
    call("GET", "/api/v1/cfssl/crl?" + q, label=f"GET /api/v1/cfssl/crl?{q}")
for q in ["expiring=1000000y", "expiring=9999999999999h", "limit=0", "limit=4294967295", "after=%%%"]:
    call("GET", "/api/v1/kpki/certificates?" + q, label=f"GET /api/v1/kpki/certificates?{q}")

# transport-level errors stay in the envelope
call("GET", "/api/v1/no-such-endpoint")
call("DELETE", "/api/v1/cfssl/sign")
call("GET", "/api/v1/cfssl/sign")
call("POST", "/metrics", raw=b"")
s, _, d = call("POST", "/api/v1/cfssl/sign", raw=b'{"certificate_request":"' + b"A" * (1 << 20) + b'"}',
               label="POST /api/v1/cfssl/sign (body over 1 MiB)")
expect(s == 413, f"body over 1 MiB: {s}")
s, _, d = call("GET", "/api/v1/kpki/certificates/%FF", label="GET /api/v1/kpki/certificates/%FF")
expect(s in (400, 404), f"invalid UTF-8 in the path: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/certinfo", {"domain": "127.0.0.1:1"}, label="POST certinfo (closed port)")
expect(s == 502, f"certinfo of an unreachable domain: {s} {short(d)}")
for raw in [b"[]", b'["x"]', b"null", b"7", b"{", b'"s"']:
    s, _, d = call("POST", "/api/v1/cfssl/newkey", raw=raw, label=f"POST /api/v1/cfssl/newkey body {raw!r}")
    expect(s == 400, f"newkey with a non-object body {raw!r}: {s} {short(d)}")
s, _, d = call("POST", "/api/v1/cfssl/newkey", raw=b'{"cn":"lower.example","KEY":{"ALGO":"ecdsa","Size":384}}',
               label="POST /api/v1/cfssl/newkey (mixed-case keys)")
expect(s == 200, f"newkey with mixed-case keys: {s} {short(d)}")
s, h, _ = call("GET", "/metrics")
expect(s == 200 and (h.get("Content-Type") or "").startswith("text/plain"), f"metrics: {s}")

if failures:
    print(f"api-conformance: {len(failures)} probe failure(s):", file=sys.stderr)
    for f in failures:
        print("  - " + f, file=sys.stderr)
    sys.exit(1)
print("api-conformance: probes passed")
EOF
if [ "$st_rc" != 0 ] || [ "$probe_rc" != 0 ]; then
  echo "api-conformance: FAIL (schemathesis exit $st_rc, probes exit $probe_rc)" >&2
  exit 1
fi
echo "api-conformance: OK"
