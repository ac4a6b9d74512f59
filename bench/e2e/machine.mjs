// What a result was measured on, for the record: machine, Node, and which hybridwire build.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

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
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    commit: git('rev-parse', '--short', 'HEAD'),
    distBuilt,
  };
}

export function describe(meta) {
  return `${meta.cpu} (${meta.cpus} CPUs), ${meta.memoryGiB} GiB, Node ${meta.node}, ${meta.platform}; ${meta.date}; ` +
    `load average at start ${meta.loadAverage.join(' ')}; commit ${meta.commit}, dist/ built ${meta.distBuilt}`;
}
