/**
 * Wills across nodes. A node's own sessions' wills are published by its pub/sub when a session
 * ends without DISCONNECT; a node that dies cannot. So each node keeps its sessions' wills in a
 * key-value bucket (`<prefix>_wills`, keyed by the node's instance and a hash of the client's
 * identity) while they apply, and when a node is noticed dead the live node whose name sorts first
 * publishes the wills the dead node left, then removes them. A QoS ≥ 1 will is stored by
 * JetStream like any publish, so it reaches every node's subscribers.
 */
import { createHash } from 'node:crypto';
import type { Cluster } from './cluster.js';
import type { NodeInfo } from './membership.js';

/** A will as pub/sub keeps it (ts/pubsub/broker.ts RoutedMessage). */
export interface StoredWill {
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  encoding: number;
  body: Uint8Array | string;
  expiresAt: number | undefined;
}

export class ClusterWills {
  /** Writes to the bucket under way (one per session at most). */
  private readonly writes = new Set<Promise<void>>();
  constructor(
    private readonly cluster: Cluster,
    /** Publishes a will on this node (and through the relay, on every node). */
    private readonly publish: (will: StoredWill) => void | Promise<void>,
  ) {}

  private get bucket(): string {
    return `${this.cluster.options.subjectPrefix}_wills`;
  }

  /** A session's will now applies (will) or no longer does (undefined). */
  changed(identity: string, will: StoredWill | undefined): void {
    const key = `${instanceKey(this.cluster.instance)}.${hash(identity)}`;
    const engine = this.cluster.engine;
    // Best effort: while NATS is away the bucket cannot follow, and a will set then is local only.
    const write = (will === undefined ? engine.kvDelete(this.bucket, key) : engine.kvPut(this.bucket, key, encodeWill(will))).catch(() => {});
    this.writes.add(write);
    void write.then(() => this.writes.delete(write));
  }

  /** Resolves once the bucket has every change made so far. */
  async settled(): Promise<void> {
    await Promise.all(this.writes);
  }

  /** A node died: if this node acts for the cluster, its wills are published and removed. */
  async nodeDied(node: NodeInfo): Promise<number> {
    if (!this.cluster.membership.isLeader()) return 0;
    const engine = this.cluster.engine;
    const entries = await engine.kvEntries(this.bucket, `${instanceKey(node.instance)}.*`);
    let published = 0;
    for (const entry of entries) {
      const will = decodeWill(entry.value);
      if (will !== undefined) {
        try {
          await this.publish(will);
        } catch {
          // A will the broker refuses, at once (a body that does not decode) or later, must not keep the others back.
        }
        published++;
      }
      await engine.kvDelete(this.bucket, entry.key).catch(() => {});
    }
    return published;
  }
}

function instanceKey(instance: string): string {
  return instance.replace(/[^A-Za-z0-9]/g, '');
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function encodeWill(will: StoredWill): Uint8Array {
  const body = typeof will.body === 'string' ? Buffer.from(will.body) : Buffer.from(will.body);
  return Buffer.from(JSON.stringify({ topic: will.topic, qos: will.qos, retain: will.retain, encoding: will.encoding, body: body.toString('base64') }));
}

function decodeWill(value: Uint8Array): StoredWill | undefined {
  try {
    const raw = JSON.parse(Buffer.from(value).toString('utf8')) as { topic: string; qos: number; retain: boolean; encoding: number; body: string };
    if (typeof raw.topic !== 'string' || ![0, 1, 2].includes(raw.qos) || typeof raw.body !== 'string') return undefined;
    return { topic: raw.topic, qos: raw.qos as 0 | 1 | 2, retain: raw.retain === true, encoding: Number(raw.encoding), body: Buffer.from(raw.body, 'base64'), expiresAt: undefined };
  } catch {
    return undefined;
  }
}
