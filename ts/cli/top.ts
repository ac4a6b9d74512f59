/**
 * `hybridwire top --host H --tcp-port N [--admin-token T]`: a live view of a running server,
 * refreshed each second from its admin request. In a terminal it redraws the screen and quits on
 * q or Ctrl-C; otherwise it prints one frame per second, separated by blank lines.
 */
import { connect } from '../api/client.js';
import { ADMIN_TYPE, type AdminReply } from '../features/admin/admin.js';
import { renderTop, type TopFrame } from './top-view.js';

export interface TopOptions {
  host: string;
  tcpPort: number;
  adminToken: string | undefined;
}

const REFRESH_MS = 1000;

export async function top(options: TopOptions): Promise<number> {
  const client = await connect({ host: options.host, tcpPort: options.tcpPort, udpPort: false });
  const target = `${options.host}:${options.tcpPort}`;
  const tty = process.stdout.isTTY === true;
  let previous: TopFrame | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const draw = async () => {
    try {
      const reply = (await client.protocolRequest(ADMIN_TYPE, options.adminToken === undefined ? {} : { token: options.adminToken })) as unknown as AdminReply;
      const frame = { reply, at: performance.now() };
      const lines = renderTop(target, frame, previous, tty ? process.stdout.columns || 100 : 100);
      previous = frame;
      process.stdout.write(tty ? `\x1b[H\x1b[2J${lines.join('\n')}\n` : `${lines.join('\n')}\n\n`);
      timer = setTimeout(() => void draw(), REFRESH_MS);
    } catch (error) {
      const code = (error as { code?: string }).code;
      process.stderr.write(`hybridwire top: ${(error as Error).message}${code ? ` [${code}]` : ''}\n`);
      // Refused (no admin access) is final; anything else (a slow reply, a busy server) is tried
      // again at the next refresh, as a live view should. A closed session ends it (below).
      if (code === 'HW_ERR_FORBIDDEN') finish(1);
      else timer = setTimeout(() => void draw(), REFRESH_MS);
    }
  };

  const quit = () => finish(0);
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  client.once('close', () => {
    process.stderr.write(`hybridwire top: the server at ${target} closed the session\n`);
    finish(1);
  });
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      // q, Q, Ctrl-C, Escape
      if (key[0] === 0x71 || key[0] === 0x51 || key[0] === 0x03 || (key.length === 1 && key[0] === 0x1b)) quit();
    });
  }
  if (tty) process.stdout.write('\x1b[?25l');
  void draw();
  const code = await finished;
  if (timer) clearTimeout(timer);
  if (tty) process.stdout.write('\x1b[?25h\n');
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(false);
    process.stdin.pause();
  }
  process.removeListener('SIGINT', quit);
  process.removeListener('SIGTERM', quit);
  client.removeAllListeners('close');
  await client.close();
  return code;
}
