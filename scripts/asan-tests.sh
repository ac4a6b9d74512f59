#!/usr/bin/env bash
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer (CMakeLists.txt, through
# cmake-js, from binding.gyp's sources) into build-asan/, then runs the JavaScript test suite
# against it: HYBRIDWIRE_ADDON points the loader (ts/native/addon.ts) at that build, in the test
# processes and in every process they start. Fails on any sanitizer report, or if the run takes
# longer than its bound.
#
#   bash scripts/asan-tests.sh                       the whole suite, at most 20 minutes
#   bash scripts/asan-tests.sh test/unit             only these tests (vitest filters)
#   HYBRIDWIRE_ASAN_TIMEOUT=600 bash scripts/...     another bound, in seconds
#
# Node itself is not instrumented, so the sanitizer runtime of the compiler used is preloaded
# (LD_PRELOAD) into every process. Leak detection is off (detect_leaks=0): at exit LeakSanitizer
# reports what V8 and Node keep until the process ends, which is not the addon's. Reports are
# written to build-asan/reports/ (ASAN_OPTIONS log_path) so that none is lost in a test's output.
# Linux only (LD_PRELOAD); needs cmake, python3 and g++ (or clang++ with its runtime libraries).
set -euo pipefail
cd "$(dirname "$0")/.."

bound="${HYBRIDWIRE_ASAN_TIMEOUT:-1200}"
if ! [[ "$bound" =~ ^[1-9][0-9]*$ ]]; then
  echo "asan-tests.sh: HYBRIDWIRE_ASAN_TIMEOUT must be a positive whole number of seconds" >&2
  exit 2
fi
if [ "$(uname -s)" != Linux ]; then
  echo "asan-tests.sh: needs Linux (the sanitizer runtime is preloaded with LD_PRELOAD)" >&2
  exit 1
fi

# The compiler, and the shared ASan runtime that goes with it.
if command -v g++ >/dev/null; then
  compiler=g++
  runtime="$(g++ -print-file-name=libasan.so)"
elif command -v clang++ >/dev/null; then
  compiler=clang++
  runtime="$(clang++ -print-file-name="libclang_rt.asan-$(uname -m).so")"
else
  echo "asan-tests.sh: no C++ compiler (g++ or clang++)" >&2
  exit 1
fi
if [ ! -f "$runtime" ]; then
  echo "asan-tests.sh: $compiler has no shared ASan runtime ($runtime); install libasan (g++) or libclang-rt-dev (clang)" >&2
  exit 1
fi
for tool in cmake python3; do
  if ! command -v "$tool" >/dev/null; then
    echo "asan-tests.sh: $tool not found" >&2
    exit 1
  fi
done

started=$(date +%s)
echo "== building the addon with ASan and UBSan ($compiler) into build-asan/"
npx cmake-js compile --directory . --out build-asan --config RelWithDebInfo --cxx "$compiler" >build-asan.log 2>&1 || {
  tail -n 40 build-asan.log >&2
  echo "asan-tests.sh: the sanitizer build failed (log: build-asan.log)" >&2
  exit 1
}
mv build-asan.log build-asan/build.log
addon="$PWD/build-asan/RelWithDebInfo/hybridwire.node"
# Tests that start dist/ (the CLI, the network namespace test) load the addon through it too.
npm run --silent compile:ts
built=$(date +%s)

reports="$PWD/build-asan/reports"
rm -rf "$reports"
mkdir -p "$reports"
echo "== the test suite against $addon (at most ${bound} s)"
status=0
HYBRIDWIRE_ADDON="$addon" \
  LD_PRELOAD="$runtime${LD_PRELOAD:+ $LD_PRELOAD}" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allow_user_segv_handler=1:log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  timeout --kill-after=30 "$bound" npx vitest run "$@" || status=$?
finished=$(date +%s)

echo "== build $((built - started)) s, tests $((finished - built)) s"
if compgen -G "$reports/*" >/dev/null; then
  for report in "$reports"/*; do
    echo "---- $report" >&2
    head -n 60 "$report" >&2
  done
  echo "asan-tests.sh: sanitizer reports above (kept in build-asan/reports/)" >&2
  exit 1
fi
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "asan-tests.sh: the test suite did not finish within ${bound} s" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "asan-tests.sh: the test suite failed against the sanitizer build (exit $status)" >&2
  exit "$status"
fi
echo "asan-tests.sh: no sanitizer reports"
