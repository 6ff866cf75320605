#!/usr/bin/env bash
# Runs kpki's cargo-fuzz targets (fuzz/), one after the other, each for a bounded time, and
# prints executions and crashes per target. A crash leaves its input in fuzz/artifacts/TARGET/;
# turn it into a regression test in tests/bad_input.rs.
#
#   FUZZ_SECONDS=60 (per target)  FUZZ_TARGETS="csr_der certinfo" (default: all)
#   FUZZ_SANITIZER=none|address (default none: the fuzzed code is safe Rust; ASan halves speed)
#   FUZZ_RSS_MB=2048  FUZZ_TIMEOUT=10 (seconds per input before libFuzzer calls it a hang)
#   FUZZ_CODEGEN_UNITS=8 (faster builds on 2 cores; 1 is cargo-fuzz's default)
#   FUZZ_NO_BUILD=1 (run the binaries already in fuzz/target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On stable Rust the sanitizer flags need
# RUSTC_BOOTSTRAP=1, which this script sets. Uses one core: run nothing else heavy meanwhile.
# Exit status: 0 when no target crashed, 1 otherwise, 2 on setup errors.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
SANITIZER="${FUZZ_SANITIZER:-none}"
RSS_MB="${FUZZ_RSS_MB:-2048}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: cargo-fuzz is missing; install it with: cargo install cargo-fuzz" >&2
  exit 2
fi

ALL_TARGETS=$(cargo fuzz list 2>/dev/null)
TARGETS="${FUZZ_TARGETS:-$ALL_TARGETS}"

LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kpki-fuzz-XXXXXX")"
BUILD_FLAGS=(-O -a -s "$SANITIZER" --codegen-units "${FUZZ_CODEGEN_UNITS:-8}")
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  echo "== building fuzz targets (release + debug assertions, sanitizer: $SANITIZER)"
  if ! cargo fuzz build "${BUILD_FLAGS[@]}" >"$LOG_DIR/build.log" 2>&1; then
    tail -40 "$LOG_DIR/build.log" >&2
    echo "fuzz.sh: build failed (full log: $LOG_DIR/build.log)" >&2
    exit 2
  fi
fi
# Run the built binaries directly: `cargo fuzz run` would rebuild whenever src/ changes
# (other people's edits), which would eat the time budget of the campaign.
BIN_DIR="target/x86_64-unknown-linux-gnu/release"

declare -A EXECS CRASHES STATUS
total_execs=0
total_crashes=0
for t in $TARGETS; do
  mkdir -p "corpus/$t" "artifacts/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  # Dictionaries help the text formats; use one when present.
  dict=()
  [ -f "dicts/$t.dict" ] && dict=("-dict=dicts/$t.dict")
  before=$(find "artifacts/$t" -type f | wc -l)
  echo "== $t: ${SECONDS_PER_TARGET}s"
  if [ ! -x "$BIN_DIR/$t" ]; then
    echo "fuzz.sh: $BIN_DIR/$t is missing (build first)" >&2
    exit 2
  fi
  "$BIN_DIR/$t" "corpus/$t" "${seeds[@]}" \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" \
    -print_final_stats=1 -artifact_prefix="$PWD/artifacts/$t/" "${dict[@]}" \
    >"$LOG_DIR/$t.log" 2>&1
  rc=$?
  after=$(find "artifacts/$t" -type f | wc -l)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG_DIR/$t.log" | grep -o '[0-9]*$' | tail -1)
  execs=${execs:-0}
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # died without an artifact (build or harness failure): count it, show the log
  fi
  EXECS[$t]=$execs
  CRASHES[$t]=$crashes
  STATUS[$t]=$rc
  total_execs=$((total_execs + execs))
  total_crashes=$((total_crashes + crashes))
  if [ "$crashes" -gt 0 ]; then
    echo "!! $t: exit $rc, $crashes new artifact(s) in fuzz/artifacts/$t/; log tail:"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$LOG_DIR/$t.log" | head -20
  fi
done

echo
printf '%-16s %14s %8s %6s\n' target executions crashes exit
for t in $TARGETS; do
  printf '%-16s %14s %8s %6s\n' "$t" "${EXECS[$t]}" "${CRASHES[$t]}" "${STATUS[$t]}"
done
printf '%-16s %14s %8s\n' TOTAL "$total_execs" "$total_crashes"
echo "logs: $LOG_DIR"
[ "$total_crashes" -eq 0 ]
