/**
 * Shared set-up of the attack tests (test/abuse/): a server on 127.0.0.1 with ephemeral ports,
 * raw sessions driven by hand, UDP attacker sockets and well-behaved clients, all closed after
 * each test. Also the names of issue 11's new options and counters, typed here so that the tests
 * compile against a server that does not have them yet.
 */
import { afterEach } from 'vitest';
import { connect, createServer, type Client, type ClientOptions, type Server, type ServerOptions, type ServerStats } from '../../ts/index.js';
import { RawPeer } from './raw-peer.js';
import { SniffingRelay, UdpAttacker } from './udp-attacker.js';

/** Options the hardening adds to ServerOptions (see the project's decisions for issue 11). */
export interface HardeningOptions {
  maxPendingHandshakes?: number;
  sendStallTimeoutMs?: number;
  maxAliasBytes?: number;
  builtins?: boolean | readonly string[];
}

export type HardenedServerOptions = Omit<ServerOptions, 'builtins'> & HardeningOptions;

export function createHardenedServer(options: HardenedServerOptions = {}): Server {
  return createServer(options as ServerOptions);
}

/** server.stats().udp with the counter the hardening adds. */
export function udpCounters(server: Server): ServerStats['udp'] & { droppedUnvalidated?: number } {
  return server.stats().udp;
}

type Step = () => Promise<void> | void;

/** Registers an afterEach that runs the deferred steps, last first; returns `defer`. */
export function cleanupAfterEach(): (step: Step) => void {
  const steps: Step[] = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step();
  });
  return (step) => {
    steps.push(step);
  };
}

export interface Started {
  server: Server;
  tcpPort: number;
  udpPort: number;
}

export async function startServer(defer: (step: Step) => void, options: HardenedServerOptions = {}): Promise<Started> {
  const server = createHardenedServer({ host: '127.0.0.1', closeTimeoutMs: 200, ...options });
  const { tcpPort, udpPort } = await server.listen();
  defer(() => server.close());
  return { server, tcpPort, udpPort: udpPort ?? 0 };
}

export interface RawSession {
  peer: RawPeer;
  token: Buffer;
  sessionId: string;
  ack: Record<string, unknown>;
}

/** A hand-driven session: TCP connect and handshake (HELLO fields overridable). */
export async function rawSession(defer: (step: Step) => void, tcpPort: number, hello: Record<string, unknown> = {}): Promise<RawSession> {
  const peer = await RawPeer.connect(tcpPort);
  defer(() => peer.destroy());
  const ack = await peer.handshake({ features: ['json', 'binary', 'udp', 'reliable-udp', 'request'], ...hello });
  if (ack.accepted !== true) throw new Error(`handshake refused: ${JSON.stringify(ack)}`);
  return { peer, token: Buffer.from(String(ack.token), 'hex'), sessionId: String(ack.sessionId), ack };
}

export async function rawPeer(defer: (step: Step) => void, tcpPort: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(tcpPort);
  defer(() => peer.destroy());
  return peer;
}

export async function udpAttacker(defer: (step: Step) => void): Promise<UdpAttacker> {
  const udp = await UdpAttacker.bind();
  defer(() => udp.close());
  return udp;
}

export async function sniffingRelay(defer: (step: Step) => void, serverUdpPort: number): Promise<SniffingRelay> {
  const relay = await SniffingRelay.start(serverUdpPort);
  defer(() => relay.close());
  return relay;
}

export async function client(defer: (step: Step) => void, options: ClientOptions): Promise<Client> {
  const connected = await connect({ host: '127.0.0.1', ...options });
  defer(() => connected.close());
  return connected;
}
