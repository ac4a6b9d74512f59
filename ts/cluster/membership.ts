/**
 * Who is in the cluster: every node publishes a heartbeat every `heartbeatMs` on one subject and
 * listens to the others'. A node not heard from for 1.5 heartbeat intervals is dead; the sweep runs
 * every quarter interval, so a node that dies is noticed within 1.75 intervals of its last
 * heartbeat (the issue's bound is two). A node that closes says so in a last heartbeat and leaves
 * at once. While this node cannot reach the engine it hears nobody and declares nobody dead: on
 * reconnection every known node gets a fresh 1.5 intervals to be heard from.
 */
import { EventEmitter } from 'node:events';
import type { ClusterEngine, Subscription } from './engine.js';

export interface NodeInfo {
  /** The node's name (cluster.name), unique in the cluster. */
  name: string;
  /** Distinguishes two lives of a node under the same name (a restart). */
  instance: string;
  /** When the node started (ms since the epoch, its clock). */
  startedAt: number;
  /** Sessions on the node at its last heartbeat. */
  clients: number;
  /** True for the node that asks. */
  self: boolean;
}

interface Heartbeat {
  name: string;
  instance: string;
  startedAt: number;
  clients: number;
  leaving?: boolean;
}

interface MembershipEvents {
  join: [node: NodeInfo];
  /** A node stopped heartbeating (crashed, or cut off): its sessions are gone. */
  dead: [node: NodeInfo];
  /** A node closed and said so. */
  leave: [node: NodeInfo];
}

const DEAD_AFTER_INTERVALS = 1.5;
const SWEEPS_PER_INTERVAL = 4;

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly others = new Map<string, { info: NodeInfo; lastSeen: number }>();
  private readonly startedAt = Date.now();
  private subscription: Subscription | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: ClusterEngine,
    private readonly subject: string,
    readonly name: string,
    readonly instance: string,
    private readonly heartbeatMs: number,
    private readonly clientCount: () => number,
  ) {
    super();
    engine.onStatus((status) => {
      if (status !== 'connected') return;
      // Whatever was not heard while this node was cut off says nothing about the others.
      const now = Date.now();
      for (const entry of this.others.values()) entry.lastSeen = now;
      this.beat();
    });
  }

  start(): void {
    this.subscription = this.engine.subscribe(this.subject, (message) => this.heard(message.data));
    this.beat();
    this.beatTimer = setInterval(() => this.beat(), this.heartbeatMs);
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1, Math.floor(this.heartbeatMs / SWEEPS_PER_INTERVAL)));
    this.beatTimer.unref();
    this.sweepTimer.unref();
  }

  /** Says goodbye (a last heartbeat with `leaving`) and stops. */
  stop(): void {
    clearInterval(this.beatTimer);
    clearInterval(this.sweepTimer);
    if (this.subscription === undefined) return;
    this.beat(true);
    this.subscription.unsubscribe();
    this.subscription = undefined;
  }

  /** The live nodes, this one first, the others by name. */
  nodes(): NodeInfo[] {
    const self: NodeInfo = { name: this.name, instance: this.instance, startedAt: this.startedAt, clients: this.clientCount(), self: true };
    const others = [...this.others.values()].map((entry) => ({ ...entry.info })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return [self, ...others];
  }

  /** The live node whose name sorts first: it alone acts for the cluster when a node dies. */
  isLeader(): boolean {
    for (const name of this.others.keys()) if (name < this.name) return false;
    return true;
  }

  private beat(leaving = false): void {
    if (!this.engine.connected) return;
    const heartbeat: Heartbeat = { name: this.name, instance: this.instance, startedAt: this.startedAt, clients: this.clientCount(), ...(leaving ? { leaving } : {}) };
    this.engine.publish(this.subject, Buffer.from(JSON.stringify(heartbeat)));
  }

  private heard(data: Uint8Array): void {
    let heartbeat: Heartbeat;
    try {
      heartbeat = JSON.parse(Buffer.from(data).toString('utf8')) as Heartbeat;
    } catch {
      return;
    }
    if (typeof heartbeat?.name !== 'string' || typeof heartbeat.instance !== 'string' || heartbeat.name === this.name) return;
    const info: NodeInfo = { name: heartbeat.name, instance: heartbeat.instance, startedAt: Number(heartbeat.startedAt) || 0, clients: Number(heartbeat.clients) || 0, self: false };
    const known = this.others.get(info.name);
    if (heartbeat.leaving) {
      if (known?.info.instance === info.instance) {
        this.others.delete(info.name);
        this.emit('leave', known.info);
      }
      return;
    }
    if (known !== undefined && known.info.instance !== info.instance) {
      // Restarted before it was noticed dead: its earlier life's sessions are gone all the same.
      this.others.delete(info.name);
      this.emit('dead', known.info);
    }
    this.others.set(info.name, { info, lastSeen: Date.now() });
    if (known === undefined || known.info.instance !== info.instance) this.emit('join', info);
  }

  private sweep(): void {
    if (!this.engine.connected) return;
    const limit = Date.now() - this.heartbeatMs * DEAD_AFTER_INTERVALS;
    for (const [name, entry] of this.others) {
      if (entry.lastSeen >= limit) continue;
      this.others.delete(name);
      this.emit('dead', entry.info);
    }
  }
}
