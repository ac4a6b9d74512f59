/**
 * Persistent pub/sub sessions (cleanSession: false) follow their client to whichever node it
 * connects to. The node holding a persistent session serves `<prefix>.session.<clientId token>`;
 * a node where the client connects and that holds no session for it asks there, in two steps, so
 * that a lost answer never loses the session:
 *
 * 1. `take`: the holder closes the client's connection there, if any, with
 *    HW_ERR_SESSION_TAKEN_OVER (the connection ends before the state leaves), and answers with the
 *    session's state (session-format.ts). It keeps its copy, which goes on queueing what arrives.
 * 2. The asking node installs the state (subscriptions, in-flight deliveries with their ids and
 *    QoS 2 release state, the queue in order, QoS 2 ids awaiting PUBREL) and waits until its own
 *    durable consumers for the session's filters exist: from then on what is published reaches it.
 * 3. `release`: the holder answers with the state as it is now (what was queued since step 1
 *    included), then ends its copy. The asking node takes that state (subscriptions, in flight,
 *    QoS 2 ids: the client may have been back on the holder meanwhile) and queue, followed by what
 *    reached it since step 2 that the holder did not have (by message id between nodes), and
 *    answers CONNECT with sessionPresent true.
 *
 * Every step is bounded by cluster.sessionTransferTimeoutMs together: when no node holds the
 * session (NATS answers "no responders" at once), or step 1 gets no answer in time, the session
 * starts anew (sessionPresent false); when step 3 gets no answer in time, the asking node goes on
 * with step 1's state. After a step that timed out or whose answer was unusable, the asking
 * node sends `discard`, so that a holder the request reached late keeps no copy (what it queued
 * between the steps is lost with it). Answers are sent in chunks of
 * CHUNK_BYTES (nats-server refuses messages over 1 MiB by default); a session's size is bounded by
 * the holder's maxOfflineMessages and maxOfflineBytes (queue), maxInflight and
 * maxSubscriptionsPerPeer. A clean connect with a clientId held elsewhere discards the other copy
 * (`discard`).
 */
import { HybridwireError } from '../errors.js';
import { takenOver } from '../api/identity.js';
import type { Broker } from '../pubsub/broker.js';
import type { QueuedDelivery, SessionState } from '../pubsub/stores.js';
import { withId } from '../pubsub/wire.js';
import { parseFilter } from '../pubsub/topics.js';
import type { Cluster } from './cluster.js';
import type { EngineMessage, Headers, Subscription } from './engine.js';
import { decodeSession, encodeSession, type TransferredSession } from './session-format.js';
import { nameToken } from './subjects.js';

/** What the hand-off needs of the broker (ts/pubsub/broker.ts). */
export type HandoffBroker = Pick<Broker, 'sessions' | 'store' | 'limits' | 'onPersistentSession' | 'adopt' | 'away' | 'endSession' | 'newDeliveryId' | 'reserveDeliveryId' | 'persistentCount' | 'subscribe' | 'unsubscribe'>;

type Step = 'take' | 'release' | 'discard';

const STEP_HEADER = 'hw-step';
const OFFSET_HEADER = 'hw-offset';
const TOTAL_HEADER = 'hw-total';
const ERROR_HEADER = 'hw-error';
/** Bytes of a session per answer: well under nats-server's default max_payload (1 MiB). */
export const CHUNK_BYTES = 256 * 1024;
/** A total no node's bounds produce: refused as corrupt rather than allocated. */
const MAX_TRANSFER_BYTES = 2 ** 30;

interface Outgoing {
  step: Step;
  bytes: Buffer;
  timer: NodeJS.Timeout;
}

export class SessionHandoff {
  private readonly served = new Map<string, Subscription>();
  /** Encoded states being read in chunks, until read to the end or sessionTransferTimeoutMs. */
  private readonly outgoing = new Map<string, Outgoing>();
  /** Sessions being brought here: not served meanwhile (this node must not answer its own requests). */
  private readonly incoming = new Map<string, Promise<void>>();
  private stopListening: (() => void) | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly broker: HandoffBroker,
    /** Resolves once this node's consumers for its present interest exist. */
    private readonly consuming: () => Promise<void>,
  ) {}

  /** Serves the persistent sessions held here, now and as they come and go. */
  start(): void {
    this.stopListening = this.broker.onPersistentSession((identity, present) => (present ? this.serve(identity) : this.unserve(identity)));
    for (const [identity, session] of this.broker.sessions) if (session.state.persistent) this.serve(identity);
  }

  stop(): void {
    this.stopListening?.();
    for (const identity of [...this.served.keys()]) this.unserve(identity);
  }

  /**
   * A client connects here with a clientId. `keep`: brings the session from the node that holds
   * it, if any; resolves in any case, within cluster.sessionTransferTimeoutMs (at once if this node
   * holds it and is not bringing it). Not `keep` (cleanSession): discards the other node's copy.
   */
  resume(identity: string, keep: boolean): Promise<void> {
    const deadline = Date.now() + this.cluster.options.sessionTransferTimeoutMs;
    if (!keep) return this.fetch(identity, 'discard', deadline).then(
      () => undefined,
      () => undefined,
    );
    let bringing = this.incoming.get(identity);
    // Adopted between the two steps, the session is here already but not whole: a CONNECT then waits for the same transfer.
    if (bringing === undefined && this.broker.sessions.get(identity)?.state.persistent === true) return Promise.resolve();
    if (bringing === undefined) {
      bringing = this.bring(identity, deadline).finally(() => {
        this.incoming.delete(identity);
        if (this.broker.sessions.get(identity)?.state.persistent === true) this.serve(identity);
      });
      this.incoming.set(identity, bringing);
    }
    return bringing;
  }

  private async bring(identity: string, deadline: number): Promise<void> {
    const broker = this.broker;
    if (broker.persistentCount() >= broker.limits.maxPersistentSessions) return;
    let first: TransferredSession;
    try {
      first = decodeSession(await this.fetch(identity, 'take', deadline), undefined, broker.limits);
      // A filter this node's limits refuse (maxTopicLevels, maxTopicBytes) makes the answer unusable here.
      for (const filter of first.subscriptions.keys()) parseFilter(filter, broker.limits);
    } catch (error) {
      // No node holds it, none answered in time, or the answer is unusable: a new session.
      this.discardStale(identity, error);
      return;
    }
    const existing = broker.sessions.get(identity);
    if (existing !== undefined) broker.endSession(existing);
    const { sessionExpiryMs, subscriptions, inflight, receivedQos2 } = first;
    // Kept at least while the transfer lasts, whatever its expiry (its client attaches right after).
    const expiresAt = Date.now() + Math.max(sessionExpiryMs, this.cluster.options.sessionTransferTimeoutMs);
    const state: SessionState = { identity, persistent: true, sessionExpiryMs, subscriptions, queue: [], queuedBytes: 0, inflight, receivedQos2, expiresAt };
    broker.store.set(state);
    // Its subscriptions join this node's interest: its consumers start now.
    const session = broker.adopt(state);
    session.requeue(this.renumber(first.queue));
    // What arrives meanwhile is told apart by identity, not position: at maxOfflineMessages or
    // maxOfflineBytes an arrival pushes an installed delivery out of the front of the queue.
    const installed = new Set(session.state.queue);
    this.cluster.counters.sessionsIn++;
    try {
      await within(this.consuming(), deadline);
      const last = decodeSession(await this.fetch(identity, 'release', deadline), undefined, this.broker.limits);
      for (const filter of last.subscriptions.keys()) parseFilter(filter, broker.limits);
      this.takeLatest(session, last);
      const arrived = session.state.queue.filter((delivery) => !installed.has(delivery));
      const known = new Set([...last.queue, ...[...last.inflight.values()].map((entry) => entry.delivery)].map((delivery) => delivery.messageId));
      session.requeue([...this.renumber(last.queue), ...arrived.filter((delivery) => delivery.messageId === undefined || !known.has(delivery.messageId))]);
    } catch (error) {
      // No (readable) answer in time: this node goes on with the first one (see the module comment).
      this.discardStale(identity, error);
    }
  }

  /**
   * The release's subscriptions, deliveries in flight and QoS 2 ids awaiting PUBREL replace the
   * take's: the client may have come back to the holder between the steps and completed,
   * released, subscribed or unsubscribed there (left as the take had them, a completed QoS 2
   * delivery would be sent again, and a released publish id would swallow the client's next one).
   */
  private takeLatest(session: ReturnType<HandoffBroker['adopt']>, last: TransferredSession): void {
    const broker = this.broker;
    const state = session.state;
    for (const filter of [...state.subscriptions.keys()]) if (!last.subscriptions.has(filter)) broker.unsubscribe(session, filter);
    for (const [filter, options] of last.subscriptions) broker.subscribe(session, filter, options);
    state.inflight.clear();
    for (const [id, entry] of last.inflight) {
      broker.reserveDeliveryId(id);
      state.inflight.set(id, entry);
    }
    state.receivedQos2.clear();
    for (const id of last.receivedQos2) state.receivedQos2.add(id);
    broker.store.changed(state);
  }

  /**
   * After a step that timed out or whose answer was unusable: a holder the request reached late (or
   * whose answer was unusable) would keep a detached copy, served, that a later connect would take
   * up again (messages delivered twice) or alongside this node's. It is told to end it. Not after
   * no responders, nor after a holder's refusal (it holds none, or another node is taking it).
   */
  private discardStale(identity: string, error: unknown): void {
    if (error instanceof Refused || (error as { code?: unknown }).code === 'HW_ERR_NOT_CONNECTED') return;
    this.fetch(identity, 'discard', Date.now() + this.cluster.options.sessionTransferTimeoutMs).catch(() => {});
  }

  /**
   * Queued deliveries get this node's ids (after those in flight, which the client may know):
   * they were never sent, and ids must be unique among a session's deliveries here.
   */
  private renumber(queue: QueuedDelivery[]): QueuedDelivery[] {
    return queue.map((delivery) => {
      const id = this.broker.newDeliveryId();
      return { ...delivery, id, record: withId(delivery.record, id) };
    });
  }

  /** One step, its answer read to the end in chunks; rejects past the deadline or on a refusal. */
  private async fetch(identity: string, step: Step, deadline: number): Promise<Buffer> {
    const engine = this.cluster.engine;
    const subject = this.subject(identity);
    const parts: Buffer[] = [];
    let offset = 0;
    let total: number | undefined;
    do {
      const left = deadline - Date.now();
      if (left <= 0) throw new HybridwireError('HW_ERR_REQUEST_TIMEOUT', `session ${JSON.stringify(identity)} did not arrive within cluster.sessionTransferTimeoutMs`);
      const headers: Headers = { ...this.cluster.originHeaders(), [STEP_HEADER]: step, [OFFSET_HEADER]: String(offset) };
      const answer = await engine.request(subject, new Uint8Array(0), headers, left);
      const code = answer.headers[ERROR_HEADER];
      if (code !== undefined) throw new Refused(/^HW_ERR_[A-Z0-9_]+$/.test(code) ? (code as never) : 'HW_ERR_REMOTE', Buffer.from(answer.data).toString('utf8'));
      const announced = Number(answer.headers[TOTAL_HEADER]);
      // Every chunk but the last is CHUNK_BYTES long: at most total / CHUNK_BYTES + 1 requests, whatever the holder sends.
      if (!Number.isSafeInteger(announced) || announced < 0 || announced > MAX_TRANSFER_BYTES || (total !== undefined && announced !== total) || answer.data.length !== Math.min(CHUNK_BYTES, announced - offset)) {
        throw new HybridwireError('HW_ERR_BAD_MESSAGE', `a bad chunk of session ${JSON.stringify(identity)}`);
      }
      total = announced;
      parts.push(Buffer.from(answer.data));
      offset += answer.data.length;
    } while (offset < total);
    return Buffer.concat(parts);
  }

  private subject(identity: string): string {
    return this.cluster.subject('session', nameToken(identity));
  }

  private serve(identity: string): void {
    if (this.served.has(identity) || this.incoming.has(identity)) return;
    this.served.set(
      identity,
      this.cluster.engine.serve(this.subject(identity), async (message) => this.answer(identity, message)),
    );
  }

  private unserve(identity: string): void {
    this.served.get(identity)?.unsubscribe();
    this.served.delete(identity);
    const outgoing = this.outgoing.get(identity);
    if (outgoing !== undefined) clearTimeout(outgoing.timer);
    this.outgoing.delete(identity);
  }

  /** A step asked of this node, for a session it holds. */
  private answer(identity: string, message: EngineMessage): { data: Uint8Array; headers: Headers } {
    const refuse = (code: string, text: string) => ({ data: Buffer.from(text, 'utf8'), headers: { [ERROR_HEADER]: code } });
    if (this.cluster.fromSelf(message.headers)) return refuse('HW_ERR_BAD_MESSAGE', 'a node does not take a session from itself');
    const step = message.headers[STEP_HEADER];
    const offset = Number(message.headers[OFFSET_HEADER]);
    if ((step !== 'take' && step !== 'release' && step !== 'discard') || !Number.isSafeInteger(offset) || offset < 0) return refuse('HW_ERR_BAD_MESSAGE', 'a session request without a valid step and offset');
    const session = this.broker.sessions.get(identity);
    if (session === undefined || !session.state.persistent) return refuse('HW_ERR_NOT_CONNECTED', `node ${this.cluster.name} holds no session ${JSON.stringify(identity)}`);
    if (offset === 0) {
      const peer = session.peer;
      if (peer !== undefined) {
        // The client connected to another node: its connection here ends first, then the state goes.
        // The copy is kept at least while the transfer lasts, whatever the session's expiry.
        const now = Date.now();
        session.state.expiresAt = now + Math.max(session.state.sessionExpiryMs, this.cluster.options.sessionTransferTimeoutMs);
        this.broker.away(session, now);
        peer.connection.fail(takenOver(identity));
      }
      if (step === 'discard') {
        this.end(session);
        return { data: new Uint8Array(0), headers: { [TOTAL_HEADER]: '0' } };
      }
      const previous = this.outgoing.get(identity);
      if (previous !== undefined) clearTimeout(previous.timer);
      const timer = setTimeout(() => this.outgoing.delete(identity), this.cluster.options.sessionTransferTimeoutMs);
      timer.unref();
      this.outgoing.set(identity, { step, bytes: encodeSession(session.state), timer });
    }
    const outgoing = this.outgoing.get(identity);
    if (outgoing === undefined || outgoing.step !== step) return refuse('HW_ERR_BAD_MESSAGE', `no ${step} of session ${JSON.stringify(identity)} under way on node ${this.cluster.name}`);
    const chunk = outgoing.bytes.subarray(offset, offset + CHUNK_BYTES);
    const headers = { [TOTAL_HEADER]: String(outgoing.bytes.length) };
    if (offset + chunk.length >= outgoing.bytes.length) {
      clearTimeout(outgoing.timer);
      this.outgoing.delete(identity);
      if (step === 'release') {
        // The asking node has the whole state: this copy goes.
        this.end(session);
        this.cluster.counters.sessionsOut++;
      }
    }
    return { data: chunk, headers };
  }

  /** Ends this node's copy, in a persistent store too (it must not come back at a restart). */
  private end(session: ReturnType<HandoffBroker['adopt']>): void {
    this.broker.endSession(session);
    void Promise.resolve(this.broker.store.commit()).catch(() => {});
  }
}

/** A holder's answer refusing a step (header hw-error). */
class Refused extends HybridwireError {}

/** `promise`, or HW_ERR_REQUEST_TIMEOUT at `deadline`. */
function within<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HybridwireError('HW_ERR_REQUEST_TIMEOUT', 'the session transfer ran out of time')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
