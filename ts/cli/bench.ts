/**
 * `hybridwire bench`: one benchmark case against a server in this process, a server forked into a
 * child process (--separate), or a running server (--tcp-port, e.g. `hybridwire serve`). Shows
 * progress while it runs and prints a summary table, or one JSON object with --json.
 */
import type { Client } from '../api/client.js';
import { runCase, type Result } from './bench-cases.js';
import { Interrupt } from './bench-load.js';
import { BENCH_USAGE, DESCRIPTIONS, parseBenchArgs, type BenchSettings } from './bench-options.js';
import { describeTarget, machine, packageVersion, plural, rounded, summary, type Run } from './bench-output.js';
import { Progress, grouped, type ProgressMode } from './bench-progress.js';
import { closeClients, connectClients, inProcessTarget, remoteTarget, separateTarget, type Target } from './bench-target.js';

function progressMode(json: boolean): { mode: ProgressMode; stream: NodeJS.WriteStream } {
  if (json) return { mode: process.stderr.isTTY ? 'bar' : 'none', stream: process.stderr };
  return { mode: process.stdout.isTTY ? 'bar' : 'lines', stream: process.stdout };
}

async function openTarget(settings: BenchSettings): Promise<Target> {
  if (settings.tcpPort !== undefined) return remoteTarget(settings.host, settings.tcpPort, settings.udpPort);
  return settings.separate ? separateTarget(settings.host) : inProcessTarget(settings.host);
}

/** `hybridwire bench ...`: returns the exit status. */
export async function bench(argv: string[]): Promise<number> {
  let settings: BenchSettings | 'help';
  try {
    settings = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`hybridwire: ${(error as Error).message}\n(hybridwire bench --help lists the options)\n`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  return runBench(settings, argv);
}

async function runBench(settings: BenchSettings, argv: string[]): Promise<number> {
  const say = (text: string) => {
    if (!settings.json) process.stdout.write(`${text}\n`);
  };
  const startedAt = new Date();
  const info = machine();
  const version = packageVersion();
  const interrupt = new Interrupt();
  const onSigint = () => {
    interrupt.interrupted = true;
  };
  // The first Ctrl-C ends the run early (with results); a second one kills as usual.
  process.once('SIGINT', onSigint);
  const { mode, stream } = progressMode(settings.json);
  const runs: Run[] = [];
  let target: Target | undefined;
  let clients: Client[] = [];
  let fatal: string | undefined;
  try {
    say(`hybridwire bench${version ? ` (hybridwire ${version})` : ''}: ${info.cpu}, ${plural(info.cores, 'core')}, Node ${info.node}, ${info.platform} ${info.arch}, load average ${info.loadAverage.join(' ')}`);
    target = await openTarget(settings);
    say(`server: ${describeTarget(target)}`);
    say(
      `load: ${settings.size}-byte payloads, ${plural(settings.clients, 'client')}` +
        `${settings.cases.includes('rtt') ? `, ${settings.inFlight} in flight per client (rtt)` : ''}` +
        `, ${settings.durationMs} ms per case after a ${settings.warmupMs} ms warm-up` +
        `${settings.messagesGiven ? `, at most ${grouped(settings.messages)} messages` : ''}`,
    );
    clients = await connectClients(target, settings.clients, settings.cases.some((name) => name === 'udp' || name === 'udp-reliable'));
    for (const name of settings.cases) {
      if (interrupt.interrupted) break;
      say('');
      say(`${name}: ${DESCRIPTIONS[name]}`);
      const progress = new Progress(mode, stream, name, name === 'rtt' ? 'req/s' : 'msg/s');
      let results: Result;
      try {
        results = await runCase(name, { target, clients, settings, interrupt, progress });
      } catch (error) {
        results = { status: 'failed', error: (error as Error).message };
      } finally {
        progress.finish(undefined);
      }
      runs.push({ case: name, results });
      say(summary({ case: name, results }, settings));
    }
  } catch (error) {
    fatal = (error as Error).message;
  } finally {
    await closeClients(clients);
    await target?.close();
    process.off('SIGINT', onSigint);
  }

  const failed = fatal !== undefined || runs.some((run) => run.results.status === 'failed' || (run.results.status === 'unavailable' && settings.requested === run.case));
  if (fatal !== undefined) process.stderr.write(`hybridwire: bench: ${fatal}\n`);
  else for (const run of runs) if (run.results.status === 'failed') process.stderr.write(`hybridwire: bench ${run.case} failed: ${run.results.error}\n`);
  if (settings.json) {
    const out = {
      tool: 'hybridwire bench',
      version,
      command: ['hybridwire', 'bench', ...argv].join(' '),
      date: startedAt.toISOString(),
      machine: info,
      server: target
        ? { where: target.where, host: target.host, tcpPort: target.tcpPort, udpPort: target.udpPort ?? null, pid: target.pid ?? null, sharedProcess: target.where === 'in-process' }
        : null,
      case: settings.requested,
      parameters: {
        size: settings.size,
        durationMs: settings.durationMs,
        warmupMs: settings.warmupMs,
        messages: settings.messages,
        clients: settings.clients,
        inFlight: settings.inFlight,
      },
      ...(settings.requested === 'all'
        ? { runs: runs.map((run) => ({ case: run.case, results: rounded(run.results) })) }
        : { results: runs[0] ? rounded(runs[0].results) : null }),
      ...(fatal !== undefined ? { error: fatal } : {}),
      interrupted: interrupt.interrupted,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  }
  return failed ? 1 : interrupt.interrupted ? 130 : 0;
}

export { benchServerChild } from './bench-target.js';
