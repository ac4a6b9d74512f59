/**
 * The README's usage example runs as written: the first ```ts block under "## Usage" is taken from
 * README.md, its `from 'hybridwire'` pointed at the built dist/index.js, and run with node as an ES
 * module. It must exit 0, print what its `console.log(...); // comment` lines say, and end with "done".
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST_INDEX,
  REPO,
  ReadmeExampleMissing,
  ensureBuilt,
  expectedOutputs,
  extractUsageExample,
  rewriteImports,
} from '../support/cli-process.js';

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hybridwire-readme-'));
}, 240_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a JavaScript module with node, killing it (by its PID) after `timeoutMs`. */
function runModule(file: string, timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file], { cwd: path.dirname(file), timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, signal: (error?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr });
    });
  });
}

/** Extracts, rewrites, writes and runs the example of a README; returns the example and its run. */
async function runExample(markdown: string, name: string): Promise<{ code: string; run: Run }> {
  const code = extractUsageExample(markdown);
  const file = path.join(tmp, `${name}.mjs`);
  fs.writeFileSync(file, rewriteImports(code));
  return { code, run: await runModule(file) };
}

function checkRun(code: string, run: Run): void {
  const transcript = `--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
  expect({ code: run.code, signal: run.signal }, `the README example failed\n${transcript}`).toEqual({ code: 0, signal: null });
  const lines = run.stdout.split('\n').filter((line) => line !== '');
  // Each line the comments promise, in the order promised.
  let at = 0;
  for (const wanted of expectedOutputs(code)) {
    const found = lines.indexOf(wanted, at);
    expect(found, `the example's comment says it prints "${wanted}"\n${transcript}`).toBeGreaterThanOrEqual(0);
    at = found + 1;
  }
  expect(lines.at(-1), transcript).toBe('done');
}

describe('README.md usage example', () => {
  it('runs as written: exit 0, the output its comments promise, then "done"', async () => {
    const markdown = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const { code, run } = await runExample(markdown, 'readme-usage');
    expect(code).toMatch(/from\s+['"]hybridwire['"]/);
    expect(code).toMatch(/console\.log\(\s*['"]done['"]\s*\)/);
    checkRun(code, run);
  });
});

describe('README example harness', () => {
  const example = `import { createServer, connect } from 'hybridwire';
const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
server.handle('chat', (msg, peer) => peer.send('chat_response', { text: \`echo: \${msg.text}\` }));
const { tcpPort, udpPort } = await server.listen();
const client = await connect({ host: '127.0.0.1', tcpPort, udpPort });
client.handle('chat_response', (msg) => console.log(msg.text)); // echo: hi
client.send('chat', { text: 'hi' });
console.log(await client.request('echo', 'hello', { timeoutMs: 500 })); // hello
await client.close();
await server.close();
console.log('done');
`;
  const readme = (body: string) => `# hybridwire\n\nIntro.\n\n\`\`\`sh\nnpm test\n\`\`\`\n\n${body}\n## Command line\n\n\`\`\`ts\nnot(the, example);\n\`\`\`\n`;

  it('takes the first ```ts block under "## Usage" and finds what its comments promise', () => {
    const markdown = readme(`## Usage\n\nSome words.\n\n\`\`\`ts\n${example}\`\`\`\n\n\`\`\`ts\nsecond();\n\`\`\`\n`);
    expect(extractUsageExample(markdown)).toBe(example);
    expect(expectedOutputs(example)).toEqual(['echo: hi', 'hello']);
    const rewritten = rewriteImports(example);
    expect(rewritten).not.toContain("'hybridwire'");
    expect(rewritten).toContain(`from '${pathToFileURL(DIST_INDEX).href}'`);
  });

  it('runs such an example with node against dist/', async () => {
    const { code, run } = await runExample(readme(`## Usage\n\n\`\`\`ts\n${example}\`\`\`\n`), 'harness-example');
    checkRun(code, run);
    expect(run.stdout.split('\n').filter((line) => line !== '')).toEqual(['echo: hi', 'hello', 'done']);
  });

  it('says the README example is missing when there is no such block', () => {
    expect(() => extractUsageExample('# hybridwire\n\nNo usage here.\n')).toThrow(ReadmeExampleMissing);
    expect(() => extractUsageExample('# hybridwire\n\nNo usage here.\n')).toThrow(/README example is missing/);
    // A ts block in a later section is not the usage example.
    expect(() => extractUsageExample(readme('## Usage\n\nSoon.\n'))).toThrow(/README example is missing/);
    expect(() => extractUsageExample('## Usage\n\n```ts\nunclosed();\n')).toThrow(/README example is missing/);
  });
});
