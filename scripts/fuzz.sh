#!/usr/bin/env bash
# Builds native/fuzz (libFuzzer + ASan + UBSan, native/core and libcrypto only, no Node), runs core-selftest,
# then runs every *-fuzzer for a bounded time. Exits non-zero on any crash, sanitizer report or
# failed check, and prints a summary.
#
#   bash scripts/fuzz.sh               30 s per fuzzer
#   bash scripts/fuzz.sh --ci          60 s per fuzzer (what CI runs)
#   bash scripts/fuzz.sh --seconds N   N s per fuzzer
#
# Seeds come from native/fuzz/corpus/<fuzzer>/ (checked in, never written); what a run discovers
# is kept in native/fuzz/corpus-run/<fuzzer>/ (git-ignored) and reused by the next run. A crashing
# input is saved as native/fuzz/build/artifacts/<fuzzer>-crash-<sha1>; reproduce it with
#   native/fuzz/build/<fuzzer> <that file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) seconds=60 ;;
    --seconds)
      seconds="${2:-}"
      shift
      ;;
    -h | --help)
      sed -n '2,14s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "fuzz.sh: unknown argument '$1' (use --ci, --seconds N or --help)" >&2
      exit 2
      ;;
  esac
  shift
done
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: --seconds needs a positive whole number of seconds" >&2
  exit 2
fi

install_hint="install clang, libclang-rt-14-dev and libssl-dev (Debian/Ubuntu: apt-get install clang libclang-rt-14-dev libssl-dev cmake)"
for tool in clang++ cmake; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz.sh: $tool not found: $install_hint" >&2
    exit 1
  fi
done
# clang without its runtime libraries compiles fine and fails only at link time, so probe the link.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe_dir/probe.cc"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cc" -o "$probe_dir/probe" 2>"$probe_dir/log"; then
  cat "$probe_dir/log" >&2
  echo "fuzz.sh: clang++ cannot link libFuzzer with ASan/UBSan: $install_hint" >&2
  exit 1
fi

build=native/fuzz/build
cmake -S native/fuzz -B "$build" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"

echo "== core-selftest"
if ! "$build/core-selftest"; then
  echo "fuzz.sh: core-selftest failed (report above); not fuzzing" >&2
  exit 1
fi

fuzzers=()
for source in native/fuzz/*-fuzzer.cc; do
  [ -e "$source" ] && fuzzers+=("$(basename "$source" .cc)")
done
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "fuzz.sh: no native/fuzz/*-fuzzer.cc found" >&2
  exit 1
fi

mkdir -p "$build/artifacts" "$build/logs"
summary=()
failed=0
for fuzzer in "${fuzzers[@]}"; do
  echo "== $fuzzer (${seconds} s)"
  run_corpus="native/fuzz/corpus-run/$fuzzer"
  seeds="native/fuzz/corpus/$fuzzer"
  mkdir -p "$run_corpus"
  corpora=("$run_corpus")
  [ -d "$seeds" ] && corpora+=("$seeds")
  log="$build/logs/$fuzzer.log"
  status=0
  "$build/$fuzzer" "${corpora[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$fuzzer-" >"$log" 2>&1 || status=$?
  stats=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|INITED|NEW|REDUCE)' "$log" | tail -n 1 |
    sed -E 's/^#([0-9]+)[[:space:]]+[A-Z]+[[:space:]]+cov: ([0-9]+).* corp: ([0-9]+)\/.*/\1 runs, coverage \2, corpus \3/') || true
  if [ "$status" -eq 0 ]; then
    summary+=("ok      $fuzzer: ${stats:-no stats}")
  else
    failed=1
    summary+=("FAILED  $fuzzer (exit $status): ${stats:-no stats}; log $log")
    # The sanitizer or check report, and where the input that caused it was saved.
    grep -E -A 12 'ERROR: |runtime error|check failed|deadly signal|Test unit written' "$log" | head -n 40 >&2 || tail -n 40 "$log" >&2
  fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
