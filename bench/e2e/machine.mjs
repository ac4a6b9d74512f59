// What a result was measured on, for the record: the machine as `hybridwire bench` describes it,
// and which hybridwire build (commit, dist/ build time).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineOf } from './harness.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

function git(...args) {
  try {
    return execFileSync('git', ['-C', root, ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return undefined;
  }
}

export function machine() {
  let distBuilt;
  try {
    distBuilt = statSync(`${root}dist/index.js`).mtime.toISOString();
  } catch {
    distBuilt = undefined;
  }
  const { cpu, cores, node, platform, osRelease, totalMemoryBytes, loadAverage } = machineOf();
  return {
    date: new Date().toISOString(),
    node,
    cpu,
    cpus: cores,
    memoryGiB: Math.round(totalMemoryBytes / 2 ** 30),
    platform: `${platform} ${osRelease}`,
    loadAverage,
    commit: git('rev-parse', '--short', 'HEAD'),
    distBuilt,
  };
}

export function describe(meta) {
  return `${meta.cpu} (${meta.cpus} CPUs), ${meta.memoryGiB} GiB, Node ${meta.node}, ${meta.platform}; ${meta.date}; ` +
    `load average at start ${meta.loadAverage.join(' ')}; commit ${meta.commit}, dist/ built ${meta.distBuilt}`;
}
