// The measuring code bench/e2e shares with `hybridwire bench` (ts/cli/bench-*.ts), so that there
// is one harness: the load loops (`pump`, `roundTrips`, `Phase`, `drained`), the latency
// histogram, the payload every sender sends, the control of child processes over IPC and the
// description of the machine. It is the built code, loaded from the same place as hybridwire
// itself: dist/, or the snapshot of it named by HYBRIDWIRE_DIST (bench/e2e/reliable-udp.mjs).
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = process.env.HYBRIDWIRE_DIST ? new URL('./', pathToFileURL(process.env.HYBRIDWIRE_DIST)) : new URL('../../dist/', import.meta.url);

async function load(module) {
  try {
    return await import(new URL(`cli/${module}.js`, dist).href);
  } catch (error) {
    throw new Error(`bench/e2e measures with the code of \`hybridwire bench\`, built into ${fileURLToPath(dist)}: build it first (npx tsc -p tsconfig.build.json). ${error.message}`);
  }
}

const loops = await load('bench-load');
export const { Phase, pump, roundTrips, drained, yieldTurn } = loops;
export const { Histogram } = await load('bench-histogram');
export const { Child, serveParent, notifyParent } = await load('bench-child');
export const { machine: machineOf } = await load('bench-output');

/** The deterministic payload of `hybridwire bench` (xorshift32), as a Buffer over the same bytes. */
export function payloadOf(size, seed) {
  const bytes = loops.payloadOf(size, seed);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
