/**
 * createServer()'s `cluster` option, checked at construction: every bound has a default and a
 * range (ts/api/option-ranges.ts, CLUSTER_RANGES), and a bad value throws HW_ERR_INVALID_OPTION
 * naming `cluster.<option>`.
 */
import os from 'node:os';
import type { ConnectionOptions } from 'nats';
import { OptionError } from '../errors.js';
import { integerOption } from '../api/option-ranges.js';
import { DEFAULT_SUBJECT_PREFIX } from './subjects.js';

export interface ClusterOptions {
  /** The NATS server: a URL (`nats://127.0.0.1:4222`, several separated by commas) or nats.js (`nats` 2.x) connection options. */
  nats: string | ConnectionOptions;
  /**
   * This node's name, unique in the cluster, 1..64 of `A-Z a-z 0-9 - _`. A node that keeps its name
   * across restarts takes up its durable consumers again (QoS >= 1 messages not yet handed on).
   * Default: the host name and process id, and a counter for several servers in one process.
   */
  name?: string;
  /** Interval of the heartbeats; a node silent for 1.5 of them is dead. Default 2000 ms. */
  heartbeatMs?: number;
  /** How long a QoS >= 1 publish waits for the cluster to store it, NATS away included, before HW_ERR_CLUSTER_UNAVAILABLE. Default 10000 ms. */
  publishTimeoutMs?: number;
  /** How long server.request() to a client on another node waits for its answer. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** Bounds the first connection to NATS at start. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** JetStream de-duplicates a QoS >= 1 message id for this long (retries within it are stored once). Default 120000 ms. */
  duplicateWindowMs?: number;
  /** A QoS >= 1 message a node took but did not acknowledge is delivered again after this. Default 10000 ms. */
  ackWaitMs?: number;
  /** Messages the JetStream stream keeps (the oldest go first). Default 1000000. */
  maxStreamMessages?: number;
  /** Message ids a node remembers to drop a second delivery of a QoS 2 message. Default 100000. */
  maxRememberedIds?: number;
  /** A node's durable consumer (one per filter) that nobody reads for this long is removed by NATS. Default 3600000 ms. */
  consumerInactiveMs?: number;
  /**
   * How long a client's CONNECT waits for its persistent session to come from the node holding it;
   * past it (or when no node holds it) the session starts anew. Default 5000 ms.
   */
  sessionTransferTimeoutMs?: number;
  /** The first token of every subject and the name of the stream, buckets: several clusters can share a NATS server. Default 'hybridwire'. */
  subjectPrefix?: string;
}

export interface ResolvedClusterOptions {
  nats: string | ConnectionOptions;
  name: string;
  heartbeatMs: number;
  publishTimeoutMs: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  duplicateWindowMs: number;
  ackWaitMs: number;
  maxStreamMessages: number;
  maxRememberedIds: number;
  consumerInactiveMs: number;
  sessionTransferTimeoutMs: number;
  subjectPrefix: string;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
let serversInProcess = 0;

export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  if (typeof options !== 'object' || options === null) throw new OptionError('option cluster must be an object { nats, name?, ... }', 'cluster');
  const nats = options.nats;
  if (!((typeof nats === 'string' && nats.length > 0) || (typeof nats === 'object' && nats !== null))) {
    throw new OptionError('option cluster.nats must be a NATS server URL (nats://host:port) or nats.js connection options', 'cluster.nats');
  }
  const name = options.name ?? `${os.hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)}-${process.pid}-${++serversInProcess}`;
  if (typeof name !== 'string' || !NAME.test(name)) throw new OptionError('option cluster.name must be 1 to 64 characters of A-Z a-z 0-9 - _', 'cluster.name');
  const prefix = options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new OptionError('option cluster.subjectPrefix must be 1 to 32 characters of A-Z a-z 0-9 - _', 'cluster.subjectPrefix');
  return {
    nats,
    name,
    heartbeatMs: integerOption('cluster.heartbeatMs', options.heartbeatMs),
    publishTimeoutMs: integerOption('cluster.publishTimeoutMs', options.publishTimeoutMs),
    requestTimeoutMs: integerOption('cluster.requestTimeoutMs', options.requestTimeoutMs),
    connectTimeoutMs: integerOption('cluster.connectTimeoutMs', options.connectTimeoutMs),
    duplicateWindowMs: integerOption('cluster.duplicateWindowMs', options.duplicateWindowMs),
    ackWaitMs: integerOption('cluster.ackWaitMs', options.ackWaitMs),
    maxStreamMessages: integerOption('cluster.maxStreamMessages', options.maxStreamMessages),
    maxRememberedIds: integerOption('cluster.maxRememberedIds', options.maxRememberedIds),
    consumerInactiveMs: integerOption('cluster.consumerInactiveMs', options.consumerInactiveMs),
    sessionTransferTimeoutMs: integerOption('cluster.sessionTransferTimeoutMs', options.sessionTransferTimeoutMs),
    subjectPrefix: prefix,
  };
}
