/** The counters of server.stats().pubsub. */

export interface PubsubCounters {
  /** Publishes taken in, by QoS (clients' and the server's own). */
  messagesIn: [number, number, number];
  /** Deliveries sent to sessions, by the QoS delivered. */
  messagesOut: [number, number, number];
  dropped: {
    /** Queued deliveries dropped, oldest first, past maxOfflineMessages or maxOfflineBytes. */
    queueFull: number;
    /** Deliveries whose expiryMs passed before they could be sent. */
    expired: number;
    /** Publishes refused by authorizePublish. */
    notAuthorized: number;
    /** Publishes dropped by a `rateLimits` topic filter whose action is 'drop'. */
    rateLimited: number;
    /** Deliveries the session's send queue could not take. */
    sendFailed: number;
    /** Publishes that matched no subscription. */
    noSubscribers: number;
    /** Publishes the cluster relay failed to carry to other nodes. */
    relayFailed: number;
  };
}

export interface PubsubStats {
  /** Distinct filters with at least one subscription. */
  topics: number;
  subscriptions: number;
  /** Sessions (connected, and persistent ones away). */
  sessions: number;
  retained: number;
  messagesIn: { qos0: number; qos1: number; qos2: number };
  messagesOut: { qos0: number; qos1: number; qos2: number };
  dropped: PubsubCounters['dropped'];
  /** QoS ≥ 1 deliveries queued for sessions (away, or past maxInflight). */
  queuedOffline: number;
  /** QoS ≥ 1 deliveries sent and awaiting acknowledgement. */
  inflight: number;
}

export function newPubsubCounters(): PubsubCounters {
  return { messagesIn: [0, 0, 0], messagesOut: [0, 0, 0], dropped: { queueFull: 0, expired: 0, notAuthorized: 0, rateLimited: 0, sendFailed: 0, noSubscribers: 0, relayFailed: 0 } };
}

export function byQos(counts: [number, number, number]): { qos0: number; qos1: number; qos2: number } {
  return { qos0: counts[0], qos1: counts[1], qos2: counts[2] };
}
