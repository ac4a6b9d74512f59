/**
 * The one place that loads the native addon. node-gyp-build picks a prebuilt binary from
 * prebuilds/<platform>-<arch>/ (so an install with scripts skipped still works), or a local build
 * from build/Release.
 *
 * HYBRIDWIRE_ADDON=<path to a .node file> loads that build instead, for development: the
 * sanitizer build of scripts/asan-tests.sh (build-asan/Release/hybridwire.node) runs the test suite
 * this way. Unset, or empty, the addon is found as above.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { HybridwireError } from '../errors.js';

/** The reliable-UDP endpoint of native/binding/reliable-binding.cc (wrapped by ts/reliable). */
export interface NativeReliableEndpoint {
  setOutputs(output: Uint8Array, rows: Uint32Array, state: Uint32Array, extras?: unknown[]): void;
  /** Returns 0 ok, 1 would block, 2 too large, 3 invalid. */
  send(payload: Uint8Array, mode: number, channel: number, flags: number): number;
  sendParts(prefix: Uint8Array, prefixLength: number, body: Uint8Array | string, mode: number, channel: number, flags: number): number;
  hasRoom(size: number): boolean;
  dropOldestUnreliable(size: number): number;
  receive(datagram: Uint8Array, nowUs: number): number;
  receiveRows(bytes: Uint8Array, rows: Uint32Array, from: number, to: number, nowUs: number, maxDatagrams: number, maxBytes: number): number;
  takePending(): number;
  flush(nowUs: number, out: Uint8Array, offset: number, lengths: Uint32Array): number;
  /** Microseconds, or -1 when nothing is scheduled. */
  nextDeadline(): number;
  /** Returns whether the endpoint failed (a held reliable message stopped making progress). */
  onTimeout(nowUs: number): boolean;
  stats(out: Float64Array): void;
  /** Frees the state machine (and its reassembly charges) now; stats() keeps the last values. */
  close(): void;
}

/** The UDP socket of native/binding/udp-socket-binding.cc (wrapped by ts/transport/udp-socket.ts). */
export interface NativeUdpSocket {
  bind(address: string, port: number): void;
  connect(address: string, port: number): void;
  setBufferSizes(receive: number, send: number): void;
  localPort(): number;
  dontFragment(): boolean;
  target(address: string, port: number): Buffer;
  /** Returns how many datagrams the kernel took at once; the rest are queued or dropped. */
  sendBatch(slab: Uint8Array, offset: number, lengths: Uint32Array, count: number, target: Uint8Array | undefined): number;
  start(): void;
  close(): void;
  ref(): void;
  unref(): void;
  stats(out: Float64Array): void;
}

/** The sealer of native/binding/seal-binding.cc (wrapped by ts/transport/datagram-seal.ts). */
export interface NativeDatagramSealer {
  install(epoch: number, key: Uint8Array, iv: Uint8Array): boolean;
  /** Returns the bytes written to `out`, or -1 when a datagram could not be sealed. */
  sealBatch(slab: Uint8Array, offset: number, lengths: Uint32Array, count: number, out: Uint8Array, outLengths: Uint32Array): number;
  /** Returns the sealed size written to `out`, or -1. */
  seal(datagram: Uint8Array, out: Uint8Array): number;
}

/** The opener of native/binding/seal-binding.cc (wrapped by ts/transport/datagram-seal.ts). */
export interface NativeDatagramOpener {
  install(epoch: number, key: Uint8Array, iv: Uint8Array): boolean;
  /** Returns the index of the first datagram not taken; the kept rows are rewritten from `from`. */
  openRows(bytes: Uint8Array, rows: Uint32Array, from: number, to: number): number;
  /** Returns 0 opened, 1 unopened, 2 replayed, 3 integrity limit reached. */
  open(sealed: Uint8Array, accept: boolean): number;
}

export interface NativeReassemblyBudget {
  used(): number;
  holders(): number;
  refused(): number;
}

/** The addon's own copy of ts/native/layouts.ts (native/binding/layouts.h), for the test that holds them together. */
export type NativeLayouts = Record<string, Record<string, number>>;

export interface NativeAddon {
  layouts: NativeLayouts;
  crc32c(data: Uint8Array, seed?: number): number;
  crc32cSoftware(data: Uint8Array, seed?: number): number;
  crc32cHardware(data: Uint8Array, seed?: number): number;
  crc32cHardwareAvailable(): boolean;
  lz4Compress(source: Uint8Array, destination: Uint8Array): number;
  lz4Decompress(source: Uint8Array, destination: Uint8Array): number;
  lz4CompressBound(size: number): number;
  decodeFrames(
    chunk: Uint8Array,
    start: number,
    rows: Uint32Array,
    result: Uint32Array,
    maxPayload: number,
    pending?: Uint8Array,
  ): number;
  decodeDatagram(datagram: Uint8Array, rows: Uint32Array, result: Uint32Array, maxPayload: number): number;
  sealFrames(buffer: Uint8Array, offsets: Uint32Array, count: number): number;
  ReliableEndpoint: new (token: Uint8Array, options: Float64Array, budget?: NativeReassemblyBudget) => NativeReliableEndpoint;
  ReassemblyBudget: new (bytes: number) => NativeReassemblyBudget;
  DatagramSealer: new (algorithm: number, token: Uint8Array, state: Float64Array, firstRecord: number) => NativeDatagramSealer;
  DatagramOpener: new (algorithm: number, token: Uint8Array, state: Float64Array, integrityLimit?: number) => NativeDatagramOpener;
  UdpSocket: new (
    ipv6: boolean,
    rows: Uint32Array,
    queueBytes: number,
    onBatch: (buffer: Buffer, count: number, senders: string[]) => void,
  ) => NativeUdpSocket;
}

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const chosen = process.env.HYBRIDWIRE_ADDON;
  if (chosen !== undefined && chosen !== '') {
    try {
      return require(path.resolve(chosen)) as NativeAddon;
    } catch (cause) {
      throw new HybridwireError('HW_ERR_NATIVE_UNAVAILABLE', `HYBRIDWIRE_ADDON names ${chosen}, which does not load: ${(cause as Error).message}`, { cause });
    }
  }
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
  try {
    return nodeGypBuild(packageRoot);
  } catch (cause) {
    const platform = `${process.platform}-${process.arch}`;
    throw new HybridwireError(
      'HW_ERR_NATIVE_UNAVAILABLE',
      `hybridwire has no prebuilt native binary for ${platform} (Node ${process.version}, ` +
        `N-API ${process.versions.napi}) and none was built from source. To build it, install ` +
        'python3, make and a C++17 compiler (g++ or clang; Visual Studio Build Tools on Windows), ' +
        `then run \`npm rebuild hybridwire\`. Loader said: ${(cause as Error).message}`,
      { cause },
    );
  }
}

export const native: NativeAddon = load();
