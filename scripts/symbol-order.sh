#!/usr/bin/env bash
# Regenerates scripts/symbol-order.txt (with --check: only reports how much of it still matches the
# binary; MAX_MISSING=N makes that fail when more are missing): the functions a CLI call executes (gencert, json -bare,
# gencert -initca, sign, genkey, selfsign, certinfo, version), which build.rs hands to the linker
# (lld's --symbol-ordering-file) so that they sit together at the start of .text. And
# scripts/rodata-order.ld: the read-only data sections those calls read, gathered into .rodata.hot
# (scripts/rodata-order.py says why and how; it reads the link map build.rs has lld write).
#
# Why: a CLI call lives ~1 ms, and on this VM half of its CPU time was the kernel mapping and
# unmapping pages of the 15 MB executable. A read fault on a file page maps the 16 pages around it
# ("fault-around"), each with its own rmap and memcg accounting, undone again at exit; with the
# executed code spread over 10 MB of .text, `gencert` mapped 4.5 MB of text for ~170 pages it ran.
# With the executed functions packed together it maps ~1.1 MB (BENCHMARKS.md, session 8).
#
# Run it after upgrading the toolchain or dependencies: Rust symbol names carry hashes that change
# then, and names the linker no longer finds are skipped silently (only speed is lost; bench-cli.sh
# prints how many listed names the measured binary still has). Needs valgrind (callgrind).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
root=$(pwd)
command -v valgrind >/dev/null || { echo "symbol-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
KPKI=${KPKI_BIN:-$(bash scripts/kpki-bin.sh --release)}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
echo '{"CN":"order CA","key":{"algo":"ecdsa","size":256}}' > ca-csr.json
echo '{"CN":"leaf.example","hosts":["leaf.example","10.0.0.1"],"key":{"algo":"ecdsa","size":256}}' > csr.json
echo '{"signing":{"default":{"expiry":"8760h"},"profiles":{"www":{"expiry":"8760h","usages":["signing","key encipherment","server auth"]}}}}' > cfg.json
"$KPKI" gencert -initca ca-csr.json 2>/dev/null | "$KPKI" json -bare ca
"$KPKI" gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json 2>/dev/null > leaf.json
n=0
trace() { # command... : runs it under callgrind (symbols not demangled: the linker wants raw names;
  # callgrind's pseudo-functions like `(below main)` and recursion suffixes `'2` are dropped below),
  # then under lackey for the addresses it reads (data layout)
  n=$((n + 1))
  valgrind --tool=callgrind --demangle=no --compress-strings=no --callgrind-out-file="cg.$n" "$@" \
    > /dev/null 2> "cg.$n.log" < "${STDIN:-/dev/null}"
  valgrind --tool=lackey --trace-mem=yes --log-file="mem.$n" "$@" > /dev/null 2>&1 < "${STDIN:-/dev/null}"
}
# The `gencert | json -bare` pipeline first: its functions get the front of .text.
trace "$KPKI" gencert -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www csr.json
STDIN=leaf.json trace "$KPKI" json -bare leaf
trace "$KPKI" gencert -initca ca-csr.json
trace "$KPKI" sign -ca=ca.pem -ca-key=ca-key.pem -config=cfg.json -profile=www leaf.csr
trace "$KPKI" genkey csr.json
trace "$KPKI" selfsign leaf.example csr.json
trace "$KPKI" certinfo leaf.pem
trace "$KPKI" version
# The musl build has its own list (build.rs picks it): musl's start-up and string functions differ.
if [ "$(nm --defined-only "$KPKI" | grep -c ' __init_libc$')" != 0 ]; then
  out="$root/scripts/symbol-order-musl.txt"; data_out="$root/scripts/rodata-order-musl.ld"
else
  out="$root/scripts/symbol-order.txt"; data_out="$root/scripts/rodata-order.ld"
fi
# The link map lld wrote for this binary (build.rs: $OUT_DIR/kpki.map), recognised by main's address.
main_at=$(nm --defined-only "$KPKI" | awk '$3 == "main" {a = $1} END {sub(/^0+/, "", a); print a}')
map=
for m in $(ls -t "$(dirname "$KPKI")"/build/kpki-*/out/kpki.map 2>/dev/null); do
  if grep -qE "^ *$main_at +$main_at +[0-9a-f]+ +[0-9]+ {17}main$" "$m"; then map=$m; break; fi
done
mem_traces=$(for i in $(seq "$n"); do echo "mem.$i"; done)
for i in $(seq "$n"); do
  grep -E '^c?fn=' "cg.$i" | sed -E 's/^c?fn=//' | sed -E "s/'[0-9]+$//" |
    grep -v -E '^(0x[0-9a-f]+|\?\?\?|\(.*)$' | awk '!seen[$0]++' > "traced.$i"
done
# valgrind's virtual CPU lacks AVX-512, ADX, SHA-NI and reports its own vendor, so natively glibc's
# ifunc dispatch and AWS-LC's run other variants of the same functions (__memmove_avx512_*,
# *_evex, __ecp_nistz256_mul_montx, sha256_block_data_order_hw, handle_amd …). Each traced
# function brings its siblings from the binary's symbol table, for whichever CPU runs it.
nm --defined-only "$KPKI" | awk '$2 ~ /^[tTwW]$/ {print $3}' | sort -u > binary-functions
python3 - binary-functions $(for i in $(seq "$n"); do echo "traced.$i"; done) > executed <<'PY'
import re, sys
have = set(l.strip() for l in open(sys.argv[1]))
commands = [[l.strip() for l in open(f) if l.strip()] for f in sys.argv[2:]]
variant = re.compile(r'(x|_hw|_nohw|_avx|_avx2|_avx512|_shaext|_ssse3|_sse2|_sse41|_ifma)$')
family = re.compile(r'(__(?:mem|str|stp|wcs|wmem|rawmem)[a-z]*_)')
stems = {}
for f in sorted(have):
    # glibc string/memory families: __memmove_avx_unaligned_erms -> __memmove_
    m = family.match(f)
    if m:
        stems.setdefault(m.group(1), []).append(f)
out, seen = [], set()
def add(f):
    if f in have or f in traced_anywhere:
        if f not in seen:
            seen.add(f); out.append(f)
traced_anywhere = set(f for c in commands for f in c)
def siblings(f):
    m = family.match(f) or re.match(r'^(?:__)?((?:mem|str|stp|wcs|wmem|rawmem)[a-z]*)$', f)
    stem = m.group(1) if m and m.group(1).startswith('__') else '__%s_' % m.group(1) if m else None
    yield from stems.get(stem, [])
    base = variant.sub('', f)
    # AWS-LC's exported names carry a version prefix its assembly variants do not:
    # aws_lc_0_47_0_ecp_nistz256_ord_mul_mont -> ecp_nistz256_ord_mul_montx
    for b in {base, re.sub(r'^aws_lc_[0-9]+_[0-9]+_[0-9]+_', '', base)}:
        for suffix in ['', 'x', '_hw', '_nohw', '_avx', '_avx2', '_avx512', '_shaext', '_ssse3', '_ifma']:
            yield b + suffix
    if f.startswith('__ecp_nistz256_') and f.endswith('q'):
        yield f[:-1] + 'x'
# First what every process runs natively but not under valgrind (or not by name): glibc's cache probing for the
# real CPU vendor, the vDSO symbol lookup of a static start-up, crt's start, every IRELATIVE
# resolver (a static executable runs them all before main), and each CPU variant of the string
# functions glibc itself calls.
for f in ['handle_amd', 'handle_intel', 'handle_zhaoxin', 'intel_check_word', 'get_common_cache_info',
          '_dl_lookup_symbol_x', 'do_lookup_x', 'check_match', '_dl_new_object', '_dl_setup_hash',
          '_start', 'frame_dummy', '__do_global_dtors_aux', 'register_tm_clones', 'deregister_tm_clones',
          # musl: callgrind calls __libc_start_main `(below main)`; __set_thread_area is assembly
          '__libc_start_main', '__set_thread_area']:
    add(f)
for f in sorted(have):
    if f.endswith('_ifunc'):
        add(f)
for name in ['memcpy', 'memmove', 'mempcpy', 'memset', 'memcmp', 'memchr', 'rawmemchr', 'strlen',
             'strnlen', 'strchr', 'strrchr', 'strcmp', 'strncmp', 'stpcpy', 'strcpy', 'strcasecmp',
             'strstr', 'wcslen', 'wcsnlen']:
    for g in stems.get('__%s_' % name, []):
        add(g)
# Then command by command (gencert, json, …): what valgrind saw it run that no earlier command
# ran, then those functions' siblings, so one command's code is one contiguous stretch.
for traced in commands:
    new = [f for f in traced if f not in seen]
    for f in new:
        add(f)
    for f in new:
        for g in siblings(f):
            add(g)
print('\n'.join(out))
PY
if [ "${1:-}" = --check ]; then
  # How much of what these commands execute in this binary the committed list still names. New
  # or renamed functions (a code change on the CLI path, a toolchain or dependency upgrade) land
  # outside the packed region: regenerate when this falls.
  total=$(wc -l < executed)
  listed=$(sort -u executed | comm -12 - <(grep -v '^#' "$out" | sort -u) | wc -l)
  missing=$((total - listed))
  # Each function left out sits somewhere in 10 MB of .text and costs its own 64 KiB fault-around:
  # 8 of 928 missing mapped 184 KiB more text per gencert (session 8).
  echo "symbol order: $listed of $total functions the CLI commands execute are listed; $missing missing (regenerate with scripts/symbol-order.sh when any are)"
  # And whether this binary was linked with the list at all (build.rs → lld): the listed functions
  # must form the front of .text. Linked with it, they span ~0.9 MiB with ~80 KiB of others among
  # them (static helpers sharing a listed function's section); without it, all 10 MiB.
  nm -n -S --defined-only "$KPKI" > binary-symbols
  python3 - "$out" binary-symbols <<'PY'
import sys
listed = set(l.strip() for l in open(sys.argv[1]) if l.strip() and not l.startswith('#'))
at = {}
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 4 and p[2] in 'tTwW':
        size, names = at.setdefault(int(p[0], 16), [int(p[1], 16), set()])
        names.add(p[3])
ordered = sorted(a for a, (_, names) in at.items() if names & listed)
if not ordered:
    sys.exit('symbol order: none of the listed functions is in the binary')
span = [a for a in at if a <= ordered[-1]]
others = sum(at[a][0] for a in span if not at[a][1] & listed)
total = sum(at[a][0] for a in span)
print(f'symbol order: the listed functions span the first {total // 1024} KiB of .text, '
      f'{others // 1024} KiB of it other code')
if others * 4 > total:
    sys.exit('symbol order: this binary was not linked with scripts/symbol-order.txt (build.rs, release builds)')
PY
  [ "$missing" -le "${MAX_MISSING:-$total}" ] || exit 1
  if [ -f "$data_out" ]; then
    readelf -SW "$KPKI" | grep -q ' \.rodata\.hot ' ||
      { echo "rodata order: this binary was not linked with ${data_out#"$root"/} (build.rs, release builds)" >&2; exit 1; }
    if [ -n "$map" ]; then
      # shellcheck disable=SC2086 # one file name per trace
      python3 "$root/scripts/rodata-order.py" check "$map" "$data_out" $mem_traces
    else
      echo "rodata order: .rodata.hot present; no link map of this binary found beside it, coverage not measured"
    fi
  fi
  exit
fi
{
  echo "# Functions executed by kpki's CLI commands, in first-seen order; the linker places them first"
  echo "# in .text (build.rs, release builds). Generated by scripts/symbol-order.sh; do not edit."
  cat executed
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "symbol-order: $(grep -vc "^#" "$out") functions written to ${out#"$root"/}"
[ -n "$map" ] || { echo "symbol-order: no link map of $KPKI found (build.rs writes one in release builds)" >&2; exit 1; }
# shellcheck disable=SC2086 # one file name per trace
python3 "$root/scripts/rodata-order.py" write "$map" "$data_out.tmp" $mem_traces
mv "$data_out.tmp" "$data_out"
echo "symbol-order: read-only data order written to ${data_out#"$root"/}"
