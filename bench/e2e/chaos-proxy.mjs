// The chaos proxy of the tests (test/chaos/udp-chaos-proxy.ts), made runnable by the benchmarks
// without a second copy of its logic: at the start of a run, the TypeScript source is compiled
// (TypeScript's own transpiler, types stripped, nothing else changed) into the gitignored
// bench/.cache/chaos/, and chaos-proxy-process.mjs runs that compiled copy in a process of its own.
// The test file stays the single source of truth; the run records the sha256 of the source it
// compiled, so a result names the proxy it went through.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from './harness.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const PROXY_SOURCE = `${root}test/chaos/udp-chaos-proxy.ts`;
export const PROXY_COMPILED = `${root}bench/.cache/chaos/udp-chaos-proxy.mjs`;
const PROCESS = fileURLToPath(new URL('./chaos-proxy-process.mjs', import.meta.url));

/** Compiles the proxy's source into bench/.cache/chaos/; returns what was compiled. */
export function compileChaosProxy() {
  const require = createRequire(import.meta.url);
  const ts = require('typescript');
  const source = readFileSync(PROXY_SOURCE, 'utf8');
  const sha256 = createHash('sha256').update(source).digest('hex');
  const { outputText, diagnostics } = ts.transpileModule(source, {
    fileName: PROXY_SOURCE,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  if (diagnostics?.length) {
    throw new Error(`cannot compile ${PROXY_SOURCE}: ${diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('; ')}`);
  }
  mkdirSync(path.dirname(PROXY_COMPILED), { recursive: true });
  writeFileSync(PROXY_COMPILED, `// Compiled from test/chaos/udp-chaos-proxy.ts (sha256 ${sha256}) by bench/e2e/chaos-proxy.mjs; do not edit.\n${outputText}`);
  return { source: 'test/chaos/udp-chaos-proxy.ts', sha256, typescript: ts.version };
}

/** Starts a proxy process relaying 127.0.0.1:proxy.port <-> 127.0.0.1:targetPort, both ways. */
export async function startChaosProxy({ targetPort, chaos, execArgv = [] }) {
  const child = new Child(PROCESS, { name: 'chaos proxy', execArgv });
  try {
    const { port } = await child.call('start', { module: PROXY_COMPILED, targetPort, chaos }, 10_000);
    return {
      port,
      counts: () => child.call('counts', {}, 5_000),
      stop: () => child.stop(),
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
