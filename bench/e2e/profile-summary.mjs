// Where a process spent its time, from a V8 CPU profile (node --cpu-prof, as written by
// `node bench/e2e/reliable-udp.mjs --cpu-prof DIR`): self time per function, busiest first, and
// the share that was idle, garbage collection or native code outside JavaScript.
//
//   node bench/e2e/profile-summary.mjs DIR/gp-16k-direct.hybridwire-udp-reliable.r1.client.cpuprofile [--top 25]
//   node bench/e2e/profile-summary.mjs DIR/*.cpuprofile --top 10
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: args, positionals: files } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } });
if (files.length === 0) {
  console.error('usage: node bench/e2e/profile-summary.mjs FILE.cpuprofile... [--top N]');
  process.exit(2);
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before sample i; charge it to the sample's node.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totals = new Map();
  let all = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const where = url ? `${path.relative(process.cwd(), url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? `  ${where}` : ''}`;
    totals.set(key, (totals.get(key) ?? 0) + us);
    all += us;
  }
  const share = (us) => `${((100 * us) / all).toFixed(1)}%`.padStart(6);
  const idle = totals.get('(idle)') ?? 0;
  console.log(`\n${path.basename(file)}: ${(all / 1000).toFixed(0)} ms sampled, ${share(all - idle).trim()} busy (idle ${share(idle).trim()}, GC ${share(totals.get('(garbage collector)') ?? 0).trim()}, program ${share(totals.get('(program)') ?? 0).trim()})`);
  const rows = [...totals].filter(([key]) => key !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
  for (const [key, us] of rows) console.log(`  ${share(us)}  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`);
}
