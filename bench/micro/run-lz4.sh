#!/usr/bin/env bash
# Builds the LZ4 benchmark drivers and runs every LZ4 micro benchmark in one go: liblz4 and our
# C++ core in-process (C drivers), then hybridwire, lz4-napi and lz4js from Node, on one corpus.
#
#   bash bench/micro/run-lz4.sh            print the results
#   bash bench/micro/run-lz4.sh --write    also write them into bench/RESULTS.md ("## LZ4 (micro)")
#
# Needs cc/c++ and liblz4-dev (apt install liblz4-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."

results_args=()
case "${1:-}" in
  --write) results_args=(--results bench/RESULTS.md) ;;
  "") ;;
  *) echo "usage: $0 [--write]" >&2; exit 2 ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npx node-gyp build >/dev/null
npx tsc -p tsconfig.build.json

# The core is compiled with the addon's own flags (see build/hybridwire.target.mk), so that it is
# the code Node runs; liblz4 is Debian's shared library.
cc -O3 -Wall -Wextra bench/micro/lz4-reference-bench.c -llz4 -o "$work/lz4-reference-bench"
c++ -std=c++17 -O3 -fPIC -fno-omit-frame-pointer -fno-exceptions -fno-rtti -Wall -Wextra -Inative \
  bench/micro/lz4-core-bench.cc native/core/lz4.cc -o "$work/lz4-core-bench"

mapfile -t corpus < <(node bench/micro/lz4-corpus.js "$work/corpus")
echo "timing liblz4 and our core on ${#corpus[@]} corpus files..." >&2
# Three passes, one file at a time, alternating the drivers, so that load from other processes
# hits both alike; the report keeps each one's best pass.
for pass in 1 2 3; do
  for file in "${corpus[@]}"; do
    "$work/lz4-reference-bench" "$file" >> "$work/liblz4.jsonl"
    "$work/lz4-core-bench" "$file" >> "$work/core.jsonl"
  done
done
echo "timing the Node implementations..." >&2
node bench/micro/lz4.bench.js --native "$work/liblz4.jsonl" --native "$work/core.jsonl" "${results_args[@]}"
