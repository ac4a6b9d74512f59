/**
 * A server's part in a cluster (createServer({ cluster })): membership by heartbeats, broadcasts to
 * the peers of every node, requests to a client on whichever node holds it, and the relay of
 * pub/sub messages (relay.ts). Every node is equal; the engine (NATS) carries everything between
 * them, so nodes need no addresses of each other.
 *
 * Subjects, under the prefix (`hybridwire`): `.cluster.heartbeat`, `.cluster.broadcast`,
 * `.cluster.takeover` (a clientId opened a session on some node: other nodes close theirs),
 * `.client.<clientId>` (requests to the client, served by the node holding it), `.session.<clientId>`
 * (a persistent session moving to another node, session-handoff.ts), `.msg.<topic>` (QoS 0) and
 * `.durable.<topic>` (QoS 1 and 2, stored by JetStream).
 */
import { HybridwireError } from '../errors.js';
import type { Payload } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import type { Peer } from '../api/peer.js';
import { takenOver } from '../api/identity.js';
import type { ClusterEngine, EngineMessage, Headers, Subscription } from './engine.js';
import { NatsEngine, uniqueId } from './nats-engine.js';
import { Membership, type NodeInfo } from './membership.js';
import { resolveClusterOptions, type ClusterOptions, type ResolvedClusterOptions } from './cluster-options.js';
import { decodePayload, encodePayload } from './payload.js';
import { nameToken } from './subjects.js';
import { Relay, type RelayBroker, type RetainedSink } from './relay.js';
import { ClusterWills, type StoredWill } from './wills.js';
import { SessionHandoff, type HandoffBroker } from './session-handoff.js';
import { Encoding, bodyOf, encodingOf } from '../session/message.js';
import { isEmptyPayload } from '../pubsub/wire.js';

/** Publishing wills and setting retained messages from other nodes. */
interface WillsBroker {
  publish(message: StoredWill): void | Promise<void>;
  readonly retained: { set(message: Omit<StoredWill, 'retain'>): void; delete(topic: string): void };
}

/** What the cluster needs of the server's pub/sub (ts/pubsub/server-pubsub.ts). */
export interface ClusterPubsub {
  readonly broker: RelayBroker & HandoffBroker & WillsBroker;
  onWill: ((peer: Peer, will: StoredWill | undefined) => void) | undefined;
  sessionElsewhere: ((identity: string, keep: boolean) => Promise<void>) | undefined;
}

/** What the cluster needs of its server. */
export interface ClusterHost {
  readonly peers: ReadonlyMap<string, Peer>;
  peerByClientId(clientId: string): Peer | undefined;
  on(event: 'connection', listener: (peer: Peer) => void): unknown;
  on(event: 'disconnect', listener: (peer: Peer) => void): unknown;
}

export interface ClusterStats {
  /** This node's name. */
  name: string;
  /** Whether NATS is reachable now. */
  connected: boolean;
  /** Live nodes, this one included. */
  nodes: number;
  /** Messages this node sent to other nodes (pub/sub relays, broadcasts, requests). */
  relayedOut: number;
  /** Messages from other nodes handed to this node's peers or subscribers. */
  relayedIn: number;
  /** Publish-to-arrival time of the last message from another node (ms; clocks of both nodes). */
  lagMs: number;
  /** The highest lagMs seen. */
  maxLagMs: number;
  /** Times the connection to NATS was re-established. */
  reconnects: number;
  /** QoS >= 1 publishes refused with HW_ERR_CLUSTER_UNAVAILABLE. */
  unavailable: number;
  /** Nodes noticed dead since this node started. */
  deadNodes: number;
  /** Persistent sessions brought here from another node (their client connected here). */
  sessionsIn: number;
  /** Persistent sessions handed from here to another node. */
  sessionsOut: number;
}

/** `{ name, ... }` of a live node, as server.cluster.nodes() gives it. */
export type ClusterNode = NodeInfo;

export const ORIGIN_HEADER = 'hw-origin';
const TIME_HEADER = 'hw-ts';
const TYPE_HEADER = 'hw-type';
const TRANSPORT_HEADER = 'hw-transport';
const ERROR_CODE_HEADER = 'hw-error';

export class Cluster {
  readonly options: ResolvedClusterOptions;
  /** Distinguishes this life of the node from an earlier one of the same name. */
  readonly instance = uniqueId();
  private engineState: ClusterEngine | undefined;
  private membershipState: Membership | undefined;
  private readonly subscriptions: Subscription[] = [];
  private readonly clientSubscriptions = new Map<Peer, Subscription>();
  /** When each local session opened (ms, this node's clock): of two sessions of one clientId on two nodes, the older goes. */
  private readonly openedAt = new WeakMap<Peer, number>();
  private relay: Relay | undefined;
  private wills: ClusterWills | undefined;
  readonly counters = { relayedOut: 0, relayedIn: 0, lagMs: 0, maxLagMs: 0, unavailable: 0, deadNodes: 0, sessionsIn: 0, sessionsOut: 0 };
  private handoff: SessionHandoff | undefined;

  constructor(
    private readonly host: ClusterHost,
    options: ClusterOptions,
    /** Sends to this node's peers only. */
    private readonly broadcastLocal: (type: string, payload: Payload, options: SendOptions) => number,
    private readonly pubsub?: ClusterPubsub,
    private readonly connectEngine: (options: ResolvedClusterOptions) => Promise<ClusterEngine> = natsEngine,
  ) {
    this.options = resolveClusterOptions(options);
  }

  get name(): string {
    return this.options.name;
  }

  /** The engine, once start() has connected it. */
  get engine(): ClusterEngine {
    if (this.engineState === undefined) throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', 'the cluster has not started: call server.listen() first');
    return this.engineState;
  }

  get membership(): Membership {
    if (this.membershipState === undefined) throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', 'the cluster has not started: call server.listen() first');
    return this.membershipState;
  }

  subject(...tokens: string[]): string {
    return [this.options.subjectPrefix, ...tokens].join('.');
  }

  /** Connects to the engine and joins; rejects with HW_ERR_CLUSTER_UNAVAILABLE if it cannot. */
  async start(): Promise<void> {
    const engine = await this.connectEngine(this.options);
    this.engineState = engine;
    const membership = new Membership(engine, this.subject('cluster', 'heartbeat'), this.name, this.instance, this.options.heartbeatMs, () => this.host.peers.size);
    this.membershipState = membership;
    membership.on('dead', () => this.counters.deadNodes++);
    this.subscriptions.push(
      engine.subscribe(this.subject('cluster', 'broadcast'), (message) => this.broadcastArrived(message)),
      engine.subscribe(this.subject('cluster', 'takeover'), (message) => this.takeoverArrived(message)),
    );
    for (const peer of this.host.peers.values()) this.serveClient(peer);
    this.host.on('connection', (peer) => {
      this.serveClient(peer);
      this.openedAt.set(peer, Date.now());
      if (peer.clientId !== undefined) engine.publish(this.subject('cluster', 'takeover'), Buffer.from(peer.clientId, 'utf8'), this.originHeaders());
    });
    this.host.on('disconnect', (peer) => {
      this.clientSubscriptions.get(peer)?.unsubscribe();
      this.clientSubscriptions.delete(peer);
    });
    membership.start();
    if (this.pubsub !== undefined) await this.joinPubsub(this.pubsub, membership);
  }

  /** Pub/sub across nodes: the relay, retained messages from every node, wills of dead nodes. */
  private async joinPubsub(pubsub: ClusterPubsub, membership: Membership): Promise<void> {
    const broker = pubsub.broker;
    const retained: RetainedSink = {
      setRetained(message) {
        const encoding = encodingOf(message.payload);
        const body = bodyOf(message.payload, encoding);
        const bytes = typeof body === 'string' ? Buffer.from(body) : body;
        if (encoding === Encoding.EMPTY || isEmptyPayload(encoding, bytes)) broker.retained.delete(message.topic);
        else broker.retained.set({ topic: message.topic, qos: message.qos, encoding, body: Buffer.from(bytes), expiresAt: undefined });
      },
    };
    this.relay = new Relay(this, broker, retained);
    await this.relay.start();
    const wills = new ClusterWills(this, (will) => broker.publish(will));
    this.wills = wills;
    pubsub.onWill = (peer, will) => wills.changed(peer.clientId ?? peer.id, will);
    membership.on('dead', (node) => void wills.nodeDied(node).catch(() => {}));
    const handoff = new SessionHandoff(this, broker, () => this.relay?.settled() ?? Promise.resolve());
    this.handoff = handoff;
    handoff.start();
    pubsub.sessionElsewhere = (identity, keep) => handoff.resume(identity, keep);
  }

  /** Leaves the cluster (other nodes see it go at once) and disconnects from the engine. */
  async stop(): Promise<void> {
    if (this.pubsub !== undefined) {
      this.pubsub.onWill = undefined;
      this.pubsub.sessionElsewhere = undefined;
    }
    this.handoff?.stop();
    await this.relay?.stop();
    this.membershipState?.stop();
    for (const subscription of [...this.subscriptions, ...this.clientSubscriptions.values()]) subscription.unsubscribe();
    this.subscriptions.length = 0;
    this.clientSubscriptions.clear();
    await this.engineState?.close();
  }

  /**
   * Resolves once NATS has processed everything this node sent before: its subscriptions, and the
   * durable consumers of its subscribers' filters (created a few milliseconds after a subscription
   * is confirmed; QoS >= 1 messages published meanwhile still reach it, QoS 0 ones may not).
   */
  async flush(): Promise<void> {
    await this.relay?.settled();
    await this.wills?.settled();
    await this.engineState?.flush();
  }

  /** The live nodes, this one first (`{ name, instance, startedAt, clients, self }` each). */
  nodes(): ClusterNode[] {
    return this.membershipState?.nodes() ?? [];
  }

  stats(): ClusterStats {
    return {
      name: this.name,
      connected: this.engineState?.connected ?? false,
      nodes: this.nodes().length,
      ...this.counters,
      reconnects: this.engineState?.stats().reconnects ?? 0,
    };
  }

  /** Headers every message from this node carries: who sent it and when (for lag). */
  originHeaders(): Headers {
    return { [ORIGIN_HEADER]: this.instance, [TIME_HEADER]: String(Date.now()) };
  }

  /** True for a message this node sent itself; counts and measures any other. */
  fromSelf(headers: Headers): boolean {
    if (headers[ORIGIN_HEADER] === this.instance) return true;
    const sentAt = Number(headers[TIME_HEADER]);
    if (Number.isFinite(sentAt) && sentAt > 0) {
      this.counters.lagMs = Math.max(0, Date.now() - sentAt);
      if (this.counters.lagMs > this.counters.maxLagMs) this.counters.maxLagMs = this.counters.lagMs;
    }
    return false;
  }

  /** server.broadcast(): the peers of the other nodes (at most once, as a broadcast is). */
  broadcast(type: string, payload: Payload, options: SendOptions): void {
    const engine = this.engineState;
    if (engine === undefined || !engine.connected) return;
    const headers = { ...this.originHeaders(), [TYPE_HEADER]: type, ...(options.transport ? { [TRANSPORT_HEADER]: options.transport } : {}) };
    engine.publish(this.subject('cluster', 'broadcast'), encodePayload(payload, headers), headers);
    this.counters.relayedOut++;
  }

  /**
   * server.request(clientId, ...): to the peer on this node, or through the engine to the node
   * that holds it; HW_ERR_NOT_CONNECTED when no node does.
   */
  async request(clientId: string, type: string, payload: Payload, timeoutMs: number | undefined): Promise<Payload> {
    const engine = this.engine;
    const wait = timeoutMs ?? this.options.requestTimeoutMs;
    const headers = { ...this.originHeaders(), [TYPE_HEADER]: type, 'hw-timeout': String(wait) };
    const data = encodePayload(payload, headers);
    this.counters.relayedOut++;
    // A little longer than the remote node waits for its peer, so that its answer (a timeout included) arrives.
    const answer = await engine.request(this.subject('client', nameToken(clientId)), data, headers, wait + 1000);
    const code = answer.headers[ERROR_CODE_HEADER];
    if (code !== undefined) throw new HybridwireError(/^HW_ERR_[A-Z0-9_]+$/.test(code) ? (code as never) : 'HW_ERR_REMOTE', Buffer.from(answer.data).toString('utf8'));
    return decodePayload(answer.data, answer.headers);
  }

  private serveClient(peer: Peer): void {
    const id = peer.clientId ?? peer.id;
    const subscription = this.engine.serve(this.subject('client', nameToken(id)), (message) => this.requestArrived(id, message));
    this.clientSubscriptions.set(peer, subscription);
  }

  private async requestArrived(clientId: string, message: EngineMessage): Promise<{ data: Uint8Array; headers?: Headers }> {
    this.fromSelf(message.headers);
    const peer = this.host.peerByClientId(clientId);
    try {
      if (peer === undefined) throw new HybridwireError('HW_ERR_NOT_CONNECTED', `no client ${JSON.stringify(clientId)} on node ${this.name}`);
      const timeoutMs = Number(message.headers['hw-timeout']) || this.options.requestTimeoutMs;
      const result = await peer.request(message.headers[TYPE_HEADER] ?? '', decodePayload(message.data, message.headers), { timeoutMs });
      this.counters.relayedIn++;
      const headers: Headers = {};
      return { data: encodePayload(result, headers), headers };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { data: Buffer.from((error as Error).message, 'utf8'), headers: { [ERROR_CODE_HEADER]: typeof code === 'string' ? code : 'HW_ERR_REMOTE' } };
    }
  }

  private broadcastArrived(message: EngineMessage): void {
    if (this.fromSelf(message.headers)) return;
    const type = message.headers[TYPE_HEADER];
    if (type === undefined) return;
    let payload: Payload;
    try {
      payload = decodePayload(message.data, message.headers);
    } catch {
      return;
    }
    const transport = message.headers[TRANSPORT_HEADER];
    this.counters.relayedIn++;
    this.broadcastLocal(type, payload, transport === 'udp' || transport === 'tcp' ? { transport } : {});
  }

  private takeoverArrived(message: EngineMessage): void {
    if (message.headers[ORIGIN_HEADER] === this.instance) return;
    const clientId = Buffer.from(message.data).toString('utf8');
    // The same clientId opened a session on another node: the older one here ends, as on one node.
    // A session here that opened after that one stays (the other node hears of it and ends its own).
    const peer = this.host.peerByClientId(clientId);
    const opened = peer === undefined ? undefined : this.openedAt.get(peer);
    if (peer === undefined || (opened !== undefined && opened > Number(message.headers[TIME_HEADER]))) return;
    peer.connection.fail(takenOver(clientId));
  }
}

/**
 * server.request(clientId, type, payload): the peer on this node, else (in a cluster) the node that
 * holds it; HW_ERR_NOT_CONNECTED when none does.
 */
export function requestClient(host: ClusterHost, cluster: Cluster | undefined, clientId: string, type: string, payload: Payload, options: { timeoutMs?: number }): Promise<Payload> {
  const local = host.peerByClientId(clientId);
  if (local !== undefined) return local.request(type, payload, options);
  if (cluster === undefined) return Promise.reject(new HybridwireError('HW_ERR_NOT_CONNECTED', `no client ${JSON.stringify(clientId)} is connected`));
  return cluster.request(clientId, type, payload, options.timeoutMs);
}

function natsEngine(options: ResolvedClusterOptions): Promise<ClusterEngine> {
  const prefix = options.subjectPrefix;
  return NatsEngine.connect({
    nats: options.nats,
    name: `hybridwire ${options.name}`,
    stream: prefix.toUpperCase().replace(/-/g, '_'),
    streamSubjects: [`${prefix}.durable.>`],
    duplicateWindowMs: options.duplicateWindowMs,
    ackWaitMs: options.ackWaitMs,
    maxStreamMessages: options.maxStreamMessages,
    consumerInactiveMs: options.consumerInactiveMs,
    connectTimeoutMs: options.connectTimeoutMs,
  });
}
