import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Peer, type Server } from '../../ts/index.js';
import { nextEvent } from '../support/raw-peer.js';
import { within } from '../support/wait.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
});

function tmpSocket(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-local-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'server.sock');
}

async function startServer(socketPath: string, options: Parameters<typeof createServer>[0] = {}): Promise<Server> {
  const server = createServer({ path: socketPath, ...options });
  cleanup.push(() => server.close());
  const result = await server.listen();
  expect(result.path).toBe(socketPath);
  expect(result.udpPort).toBeUndefined();
  return server;
}

async function startClient(socketPath: string): Promise<Client> {
  const client = await connect({ path: socketPath });
  cleanup.push(() => client.close());
  return client;
}

describe.skipIf(process.platform === 'win32')('local sockets (Unix domain)', () => {
  it('carries messages, requests and replies both ways, as TCP does', async () => {
    const socketPath = tmpSocket();
    const server = await startServer(socketPath);
    server.handle<number[]>('sum', (numbers) => numbers.reduce((a, b) => a + b, 0));
    server.handle<{ text: string }>('chat', (message, peer) => void peer.send('chat_response', { text: `echo: ${message.text}` }));
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient(socketPath);
    const [peer] = await within(connected, 5000, 'the connection event');
    expect(server.peers.get(client.sessionId!)).toBe(peer);
    expect(await client.request('sum', [1, 2, 3, 4])).toBe(10);
    const reply = new Promise((resolve) => client.handle('chat_response', resolve));
    client.send('chat', { text: 'hi' });
    expect(await within(reply, 5000, 'chat_response')).toEqual({ text: 'echo: hi' });
    // The server asks the client too.
    client.handle<string>('upper', (text) => text.toUpperCase());
    expect(await peer.request('upper', 'local')).toBe('LOCAL');
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    server.handle<Buffer>('length', (bytes) => bytes.length);
    expect(await client.request('length', big)).toBe(big.length);
    expect(client.stats!.tcp.messagesOut).toBeGreaterThanOrEqual(4);
  });

  it('has no UDP: the client never gets a path, and UDP sends fail with HW_ERR_UDP_UNAVAILABLE', async () => {
    const socketPath = tmpSocket();
    await startServer(socketPath);
    const client = await startClient(socketPath);
    expect(client.udpReady).toBe(false);
    expect(() => client.send('x', 'y', { transport: 'udp' })).toThrow(expect.objectContaining({ code: 'HW_ERR_UDP_UNAVAILABLE' }));
    expect(() => client.send('x', 'y', { transport: 'udp', reliable: true })).toThrow(expect.objectContaining({ code: 'HW_ERR_UDP_UNAVAILABLE' }));
  });

  it('gives the socket file mode 0o600 by default, or pathMode, and removes it on close', async () => {
    const first = tmpSocket();
    const server = await startServer(first);
    expect(fs.statSync(first).mode & 0o777).toBe(0o600);
    await server.close();
    expect(fs.existsSync(first)).toBe(false);
    const second = tmpSocket();
    await startServer(second, { pathMode: 0o660 });
    expect(fs.statSync(second).mode & 0o777).toBe(0o660);
    await startClient(second);
  });

  it('replaces a stale socket file that nothing listens on', async () => {
    const socketPath = tmpSocket();
    // A process that listens, then dies without closing: its socket file stays behind.
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanup.push(() => void child.kill('SIGKILL'));
    await within(new Promise((resolve) => child.stdout!.once('data', resolve)), 10_000, 'the child listening');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await within(exited, 10_000, 'the child exiting');
    expect(fs.lstatSync(socketPath).isSocket()).toBe(true);
    const server = await startServer(socketPath);
    server.handle('ping2', () => 'pong2');
    const client = await startClient(socketPath);
    expect(await client.request('ping2')).toBe('pong2');
  });

  it('refuses a path another process listens on (EADDRINUSE) and leaves that listener working', async () => {
    const socketPath = tmpSocket();
    const other = net.createServer((socket) => {
      // listen()'s probe connects and goes at once.
      socket.on('error', () => {});
      socket.end('still here');
    });
    await new Promise<void>((resolve) => other.listen(socketPath, resolve));
    cleanup.push(() => new Promise<void>((resolve) => other.close(() => resolve())));
    const server = createServer({ path: socketPath });
    await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ path: socketPath });
      let text = '';
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toBe('still here');
  });

  it('refuses a path that exists and is not a socket, and leaves the file alone', async () => {
    const socketPath = tmpSocket();
    fs.writeFileSync(socketPath, 'precious');
    await expect(createServer({ path: socketPath }).listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(fs.readFileSync(socketPath, 'utf8')).toBe('precious');
  });

  it('fails to connect to a path nothing listens on with HW_ERR_CONNECT_FAILED naming the path', async () => {
    const socketPath = tmpSocket();
    await expect(connect({ path: socketPath })).rejects.toMatchObject({ code: 'HW_ERR_CONNECT_FAILED', message: expect.stringContaining(socketPath) });
  });

});
