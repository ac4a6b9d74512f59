#!/usr/bin/env bash
# Proves that the packed tarball installs and works where no compiler can be reached, and that the
# addon it loads is the prebuilt binary from prebuilds/, not a local build.
#
#   npm run prebuild && bash scripts/verify-pack.sh
#
# For each of a normal install (install script allowed) and `npm install --ignore-scripts` (what
# pnpm 10 does by default), in an empty project whose PATH holds only node, npm and sh:
#   - the package imports, crc32c("123456789") is 0xe3069283 and frames survive an encode/decode
#     round trip;
#   - node-gyp-build resolves to prebuilds/, the process mapped that file, and no build/ exists;
#   - with prebuilds/ moved away, importing fails with HW_ERR_NATIVE_UNAVAILABLE, naming the
#     platform and how to build from source.
# Exits non-zero on the first failure. Needs no input; every npm and node call is time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

platform=$(node -p 'process.platform + "-" + process.arch')
shopt -s nullglob
prebuilt=(prebuilds/"$platform"/*.node)
shopt -u nullglob
[ "${#prebuilt[@]}" -gt 0 ] || fail "no prebuilds/$platform/*.node: run \`npm run prebuild\` first"

work=$(mktemp -d "${TMPDIR:-/tmp}/hybridwire-verify-pack.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Bounds every npm and node call (GNU timeout; absent on stock macOS, where calls run unbounded).
timeout_bin=$(command -v timeout || command -v gtimeout || true)
bounded() {
  local seconds=$1
  shift
  if [ -n "$timeout_bin" ]; then "$timeout_bin" "$seconds" "$@"; else "$@"; fi
}

# --- Pack. `npm pack` runs "prepare" (compile:ts), so dist/ is fresh even in a new clone. ---------
mkdir "$work/pack"
bounded 300 npm pack --pack-destination "$work/pack" >"$work/pack.log" 2>&1 ||
  { cat "$work/pack.log" >&2; fail "npm pack"; }
tarballs=("$work"/pack/*.tgz)
if [ "${#tarballs[@]}" -ne 1 ] || [ ! -f "${tarballs[0]}" ]; then fail "npm pack did not produce one tarball"; fi
tarball=${tarballs[0]}

tar -tzf "$tarball" >"$work/contents.txt"
for entry in package/package.json package/dist/index.js package/dist/index.d.ts \
  package/dist/native/addon.js package/binding.gyp; do
  grep -qx "$entry" "$work/contents.txt" || fail "$(basename "$tarball") lacks $entry"
done
grep -q "^package/prebuilds/$platform/.*\.node$" "$work/contents.txt" ||
  fail "$(basename "$tarball") lacks prebuilds/$platform/*.node"
if grep -q '^package/build/' "$work/contents.txt"; then fail "$(basename "$tarball") contains build/"; fi
echo "PASS tarball $(basename "$tarball") holds dist/ and $(grep "^package/prebuilds/$platform/" "$work/contents.txt" | sed 's|^package/||' | paste -sd ' ' -)"

# --- A PATH with node, npm and sh (npm runs scripts through sh) and no compiler, make or python. --
nocc="$work/bin"
mkdir "$nocc"
ln -s "$(command -v node)" "$nocc/node"
ln -s "$(command -v npm)" "$nocc/npm"
ln -s "$(command -v sh)" "$nocc/sh"

# Variables that could point the build at a compiler or a binary, or leak the npm run that started
# this script (npm_config_*, npm_package_*) into the installs below.
unset_args=()
for name in CC CXX CPP LD MAKE PYTHON HYBRIDWIRE HYBRIDWIRE_PREBUILD $(compgen -e | grep -i '^npm_' || true); do
  unset_args+=(-u "$name")
done
without_compiler() {
  local seconds=$1
  shift
  env "${unset_args[@]}" PATH="$nocc" ${timeout_bin:+"$timeout_bin" "$seconds"} "$@"
}

for tool in g++ gcc cc c++ clang clang++ make gmake python3 python; do
  if without_compiler 10 sh -c "command -v $tool" >/dev/null 2>&1; then fail "$tool is reachable on the test PATH"; fi
done
echo "PASS the test PATH reaches node $(without_compiler 10 node --version) and npm $(without_compiler 30 npm --version 2>/dev/null) but no g++, cc, make or python3"

# --- The check run in each installed project. -------------------------------------------------------
cat >"$work/check.mjs" <<'EOF'
// node check.mjs works | node check.mjs unavailable
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const packageDir = path.dirname(require.resolve('hybridwire/package.json'));
const platform = `${process.platform}-${process.arch}`;

if (process.argv[2] === 'unavailable') {
  const error = await import('hybridwire').then(
    () => assert.fail('import succeeded with prebuilds/ moved away'),
    (caught) => caught,
  );
  assert.equal(error.code, 'HW_ERR_NATIVE_UNAVAILABLE', `unexpected error: ${error.stack}`);
  assert.match(error.message, new RegExp(`\\b${platform}\\b`), 'message names the platform');
  assert.match(error.message, /npm rebuild hybridwire/, 'message says how to build from source');
  assert.match(error.message, /python3/);
  console.log(`  error: ${error.code}: ${error.message.split('. Loader said')[0]}`);
  process.exit(0);
}

const { crc32c, FrameEncoder, FrameDecoder, FrameType, FrameFlag } = await import('hybridwire');

assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283, 'crc32c check value');

// Small payloads are copied into the slab, the large one is passed through: both paths round-trip.
const frames = [
  { type: FrameType.MESSAGE, payload: Buffer.from('hello'), channel: 3, sequence: 1 },
  { type: FrameType.PING },
  { type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, sequence: 0xffffffff,
    payload: Buffer.alloc(5000, 0xab) },
];
const stream = Buffer.concat(new FrameEncoder().encode(frames));
const decoder = new FrameDecoder();
const decoded = [];
for (let at = 0; at < stream.length; at += 7) {
  decoder.push(stream.subarray(at, at + 7));
  for (const frame of decoder.frames()) decoded.push({ ...frame, payload: Buffer.from(frame.payload) });
}
assert.equal(decoded.length, frames.length, 'frames decoded');
frames.forEach((sent, i) => {
  const got = decoded[i];
  assert.equal(got.type, sent.type);
  assert.equal(got.flags, sent.flags ?? 0);
  assert.equal(got.channel, sent.channel ?? 0);
  assert.equal(got.sequence, sent.sequence ?? 0);
  assert.deepEqual(got.payload, sent.payload ?? Buffer.alloc(0));
});

// The addon must be the prebuilt binary.
assert.ok(!fs.existsSync(path.join(packageDir, 'build')), `${packageDir}/build exists`);
const resolved = fs.realpathSync(createRequire(path.join(packageDir, 'package.json'))('node-gyp-build').resolve(packageDir));
const prebuilds = fs.realpathSync(path.join(packageDir, 'prebuilds', platform));
assert.ok(resolved.startsWith(prebuilds + path.sep), `node-gyp-build resolves ${resolved}`);
if (fs.existsSync('/proc/self/maps')) {
  const mapped = new Set(
    fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
      .map((line) => line.slice(line.indexOf('/')))
      .filter((file) => file.endsWith('.node')),
  );
  assert.deepEqual([...mapped], [resolved], 'the one addon mapped into the process');
}
console.log(`  crc32c("123456789") = 0x${crc32c(Buffer.from('123456789')).toString(16)}; ` +
  `${decoded.length} frames round-tripped; addon ${path.relative(packageDir, resolved)}`);
EOF

# --- Install and check, with install scripts and without. ---------------------------------------
for mode in scripts ignore-scripts; do
  app="$work/app-$mode"
  mkdir "$app"
  cp "$work/check.mjs" "$app/"
  (
    cd "$app"
    without_compiler 60 npm init -y >/dev/null 2>"$work/init-$mode.log" ||
      { cat "$work/init-$mode.log" >&2; fail "npm init -y ($mode)"; }
    install_args=(--no-audit --no-fund --prefer-offline --foreground-scripts)
    if [ "$mode" = scripts ]; then
      # npm 11 asks projects to approve dependency install scripts; approve ours so it runs.
      without_compiler 30 node -e '
        const fs = require("fs");
        const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
        pkg.allowScripts = { hybridwire: true };
        fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2) + "\n");'
    else
      install_args+=(--ignore-scripts)
    fi
    log="$work/install-$mode.log"
    without_compiler 300 npm install "${install_args[@]}" "$tarball" >"$log" 2>&1 ||
      { cat "$log" >&2; fail "npm install ${install_args[*]} $(basename "$tarball") without a compiler"; }
    if [ "$mode" = scripts ]; then
      grep -q '^> node-gyp-build$' "$log" || { cat "$log" >&2; fail "the install script did not run"; }
    elif grep -q '^> node-gyp-build$' "$log"; then
      fail "the install script ran despite --ignore-scripts"
    fi
    # hybridwire's own scripts must not compile. An optional dependency's may try to and fail
    # without a compiler (zstd-napi: zstd is then simply not offered), which the checks below cover.
    own_scripts=$(awk '/^> / { if ($2 ~ /^hybridwire@/) own = 1; else if ($0 !~ /^> (node-gyp-build|npm run)/) own = 0 } own' "$log")
    if grep -q 'gyp info' <<<"$own_scripts"; then cat "$log" >&2; fail "the install ran node-gyp for hybridwire ($mode)"; fi
    [ ! -e node_modules/hybridwire/build ] || fail "node_modules/hybridwire/build exists after install ($mode)"

    without_compiler 60 node check.mjs works || fail "hybridwire does not work after install ($mode)"
    echo "PASS install ($mode) without a compiler: hybridwire works from its prebuilt binary"

    mv node_modules/hybridwire/prebuilds "$work/prebuilds-aside"
    status=0
    without_compiler 60 node check.mjs unavailable || status=$?
    mv "$work/prebuilds-aside" node_modules/hybridwire/prebuilds
    [ "$status" = 0 ] || fail "the error without a binary is not the documented one ($mode)"
    echo "PASS install ($mode) with prebuilds/ removed: import fails with HW_ERR_NATIVE_UNAVAILABLE"
  )
done

echo "PASS verify-pack: $(basename "$tarball") installs and loads its prebuilt binary with no compiler"
