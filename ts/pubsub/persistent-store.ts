/**
 * The `persistence: { dir }` option: persistent sessions and retained messages kept in SQLite
 * (better-sqlite3) under `dir`, so that they survive a server restart (ts/pubsub/README.md,
 * "Durability", says why SQLite and what is guaranteed).
 *
 * The broker works on in-memory state as it does without persistence (stores.ts); these stores
 * record what changed and write it at `commit()`. All commits of one event-loop turn share one
 * transaction (group commit), written in a setImmediate and fsynced (WAL, synchronous = FULL)
 * before the promise they return settles: the broker acknowledges a QoS ≥ 1 publish only then.
 * Only persistent sessions (cleanSession: false) are written; clean ones live in memory only.
 * A session's deliveries are rows of their own, so a publish writes one row per persistent
 * session it reaches, not the session's whole queue.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { HybridwireError, OptionError } from '../errors.js';
import { MemoryRetainedStore, type QueuedDelivery, type RetainedMessage, type RetainedStore, type SessionState, type SessionStore, type SubscriptionOptions } from './stores.js';
import type { QoS } from './wire.js';

/**
 * better-sqlite3 is an optional dependency (it compiles on install where no prebuilt binary fits,
 * and an install without a compiler must still give a working hybridwire): loaded on first use.
 */
let sqliteModule: typeof Database | undefined;
function sqlite(): typeof Database {
  if (sqliteModule === undefined) {
    try {
      sqliteModule = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    } catch (error) {
      throw new HybridwireError('HW_ERR_STORE_UNAVAILABLE', `option persistence needs the optional package better-sqlite3, which did not load: ${(error as Error).message}`, { cause: error });
    }
  }
  return sqliteModule;
}

export interface PersistenceOptions {
  /** The directory of the store (created if missing); one server at a time uses it. */
  dir: string;
}

/** The bounds the store applies to what it loads (the broker applies them to what comes after). */
export interface PersistenceLimits {
  maxOfflineMessages: number;
  maxOfflineBytes: number;
  maxRetainedMessages: number;
}

const FILE = 'pubsub.sqlite';
const SCHEMA_VERSION = 1;
/** A delivery's row state. */
const QUEUED = 0;
const INFLIGHT = 1;
const RELEASED = 2;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (identity TEXT PRIMARY KEY, seq INTEGER NOT NULL, session_expiry_ms INTEGER NOT NULL,
  expires_at INTEGER, subscriptions TEXT NOT NULL, received_qos2 TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (identity TEXT NOT NULL, seq INTEGER NOT NULL, id INTEGER NOT NULL, qos INTEGER NOT NULL,
  record BLOB NOT NULL, expires_at INTEGER, state INTEGER NOT NULL, PRIMARY KEY (identity, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, seq INTEGER NOT NULL, qos INTEGER NOT NULL, encoding INTEGER NOT NULL,
  body BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID;
`;

/** `persistence`, checked. */
export function checkPersistence(value: unknown): PersistenceOptions | undefined {
  if (value === undefined) return undefined;
  const dir = (value as { dir?: unknown } | null)?.dir;
  if (typeof value !== 'object' || value === null || typeof dir !== 'string' || dir.length === 0) {
    throw new OptionError('option persistence must be { dir: string } (a non-empty directory path)', 'persistence');
  }
  return { dir };
}

function storeError(dir: string, error: unknown): HybridwireError {
  const detail = error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error);
  return new HybridwireError('HW_ERR_STORE_UNAVAILABLE', `the pub/sub store in ${dir} cannot be used (${detail})`, { cause: error });
}

/** What the database holds of one persistent session's deliveries: row seq and state by delivery. */
interface Written {
  seq: number;
  /** The session row as written (its subscriptions, expiry and QoS 2 ids), to skip writing it again unchanged. */
  row: string;
  rows: Map<QueuedDelivery, { seq: number; state: number }>;
}

type Row = Record<string, unknown>;

export class PersistentStore {
  readonly sessions: SessionStore;
  readonly retained: RetainedStore;
  private readonly db: Database.Database;
  private readonly statements: Record<string, Database.Statement>;
  /** Sessions in memory, in the order stored; what is written of each persistent one. */
  private readonly states = new Map<string, SessionState>();
  private readonly written = new Map<string, Written>();
  private readonly dirtySessions = new Set<string>();
  private readonly retainedMemory = new MemoryRetainedStore();
  private readonly dirtyRetained = new Map<string, RetainedMessage | undefined>();
  private nextSeq = 1;
  private pending: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    limits: PersistenceLimits,
  ) {
    let db: Database.Database | undefined;
    try {
      fs.mkdirSync(dir, { recursive: true });
      db = new (sqlite())(path.join(dir, FILE));
      this.db = db;
      this.db.pragma('journal_mode = WAL');
      // FULL: the WAL is fsynced at each commit, so an acknowledged publish survives power loss too.
      this.db.pragma('synchronous = FULL');
      const check = this.db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check: ${String(check)}`);
      this.db.exec(SCHEMA);
      const version = (this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as Row | undefined)?.value;
      if (version === undefined) this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
      else if (version !== SCHEMA_VERSION) throw new Error(`schema version ${String(version)}, this server reads ${SCHEMA_VERSION}`);
      this.statements = this.prepare();
      this.load(limits);
    } catch (error) {
      db?.close();
      throw storeError(dir, error);
    }
    this.sessions = this.sessionStore();
    this.retained = this.retainedStore();
  }

  /** Writes what is pending and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.pending?.catch(() => {});
    this.closed = true;
    try {
      if (this.dirtySessions.size > 0 || this.dirtyRetained.size > 0) this.flush();
    } catch {
      // Nothing pending here was acknowledged (that waited for its commit): what is lost is an
      // acknowledgement's removal or a session's expiry, and the delivery is sent again after a restart.
    } finally {
      this.db.close();
    }
  }

  private prepare(): Record<string, Database.Statement> {
    const db = this.db;
    return {
      putSession: db.prepare('INSERT OR REPLACE INTO sessions (identity, seq, session_expiry_ms, expires_at, subscriptions, received_qos2) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE identity = ?'),
      deleteDeliveries: db.prepare('DELETE FROM deliveries WHERE identity = ?'),
      putDelivery: db.prepare('INSERT OR REPLACE INTO deliveries (identity, seq, id, qos, record, expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      setDeliveryState: db.prepare('UPDATE deliveries SET state = ? WHERE identity = ? AND seq = ?'),
      deleteDelivery: db.prepare('DELETE FROM deliveries WHERE identity = ? AND seq = ?'),
      putRetained: db.prepare('INSERT OR REPLACE INTO retained (topic, seq, qos, encoding, body, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteRetained: db.prepare('DELETE FROM retained WHERE topic = ?'),
    };
  }

  /** Reads everything back, within the bounds (lowered since the last run: the oldest go). */
  private load(limits: PersistenceLimits): void {
    const db = this.db;
    const maxSeq = (table: string) => Number((db.prepare(`SELECT max(seq) AS seq FROM ${table}`).get() as Row).seq ?? 0);
    this.nextSeq = Math.max(maxSeq('sessions'), maxSeq('deliveries'), maxSeq('retained')) + 1;
    for (const row of db.prepare('SELECT * FROM sessions ORDER BY seq').iterate() as Iterable<Row>) {
      const identity = String(row.identity);
      const subscriptions = new Map(JSON.parse(String(row.subscriptions)) as Array<[string, SubscriptionOptions]>);
      const state: SessionState = {
        identity,
        persistent: true,
        sessionExpiryMs: Number(row.session_expiry_ms),
        subscriptions,
        queue: [],
        queuedBytes: 0,
        inflight: new Map(),
        receivedQos2: new Set(JSON.parse(String(row.received_qos2)) as number[]),
        expiresAt: row.expires_at === null ? undefined : Number(row.expires_at),
      };
      this.states.set(identity, state);
      this.written.set(identity, { seq: Number(row.seq), row: '', rows: new Map() });
    }
    for (const row of db.prepare('SELECT * FROM deliveries ORDER BY identity, seq').iterate() as Iterable<Row>) {
      const identity = String(row.identity);
      const state = this.states.get(identity);
      if (state === undefined) continue;
      const delivery: QueuedDelivery = { id: Number(row.id), qos: Number(row.qos) as QoS, record: Buffer.from(row.record as Buffer), expiresAt: row.expires_at === null ? undefined : Number(row.expires_at) };
      const rowState = Number(row.state);
      if (rowState === QUEUED) {
        state.queue.push(delivery);
        state.queuedBytes += delivery.record.length;
      } else {
        state.inflight.set(delivery.id, { delivery, released: rowState === RELEASED, sentAt: 0 });
      }
      this.written.get(identity)!.rows.set(delivery, { seq: Number(row.seq), state: rowState });
    }
    for (const state of this.states.values()) {
      let trimmed = false;
      while (state.queue.length > limits.maxOfflineMessages || (state.queuedBytes > limits.maxOfflineBytes && state.queue.length > 0)) {
        state.queuedBytes -= state.queue.shift()!.record.length;
        trimmed = true;
      }
      if (trimmed) this.dirtySessions.add(state.identity);
    }
    const retained = [...(db.prepare('SELECT * FROM retained ORDER BY seq').iterate() as Iterable<Row>)];
    for (const [index, row] of retained.entries()) {
      const topic = String(row.topic);
      if (retained.length - index > limits.maxRetainedMessages) {
        this.dirtyRetained.set(topic, undefined);
        continue;
      }
      this.retainedMemory.set({ topic, qos: Number(row.qos) as QoS, encoding: Number(row.encoding), body: Buffer.from(row.body as Buffer), expiresAt: row.expires_at === null ? undefined : Number(row.expires_at) });
    }
  }

  /** The promise of the next group commit (one per event-loop turn), or undefined if nothing changed. */
  private commit(): Promise<void> | undefined {
    if (this.pending !== undefined) return this.pending;
    if (this.dirtySessions.size === 0 && this.dirtyRetained.size === 0) return undefined;
    this.pending = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.pending = undefined;
        try {
          this.flush();
          resolve();
        } catch (error) {
          reject(storeError(this.dir, error));
        }
      });
    });
    // Changes schedule a commit of their own (an acknowledgement's removal is written too): a
    // failure nobody awaits is not unhandled, and what failed is written by the next commit.
    this.pending.catch(() => {});
    return this.pending;
  }

  /** One transaction with every change since the last; on failure they stay pending. */
  private flush(): void {
    if (!this.db.open) throw new Error('the store is closed');
    const sessions = [...this.dirtySessions];
    const retained = [...this.dirtyRetained];
    const updates: Array<() => void> = [];
    this.db.transaction(() => {
      for (const identity of sessions) updates.push(this.writeSession(identity));
      for (const [topic, message] of retained) this.writeRetained(topic, message);
    })();
    // Committed: what the database now holds becomes the base of the next diff.
    for (const update of updates) update();
    this.dirtySessions.clear();
    this.dirtyRetained.clear();
  }

  /** Writes one session's changes; returns how to update `written` once committed. */
  private writeSession(identity: string): () => void {
    const s = this.statements;
    const state = this.states.get(identity);
    const before = this.written.get(identity);
    if (state === undefined || !state.persistent) {
      if (before === undefined) return () => {};
      s.deleteSession!.run(identity);
      s.deleteDeliveries!.run(identity);
      return () => this.written.delete(identity);
    }
    const seq = before?.seq ?? this.nextSeq++;
    const subscriptions = JSON.stringify([...state.subscriptions]);
    const received = JSON.stringify([...state.receivedQos2]);
    // Most changes are deliveries: the session's own row is written only when it differs.
    const row = `${state.sessionExpiryMs} ${state.expiresAt ?? ''} ${received} ${subscriptions}`;
    if (before?.row !== row) s.putSession!.run(identity, seq, state.sessionExpiryMs, state.expiresAt ?? null, subscriptions, received);
    const rows = new Map<QueuedDelivery, { seq: number; state: number }>();
    const keep = (delivery: QueuedDelivery, rowState: number) => {
      const old = before?.rows.get(delivery);
      if (old === undefined) {
        const rowSeq = this.nextSeq++;
        s.putDelivery!.run(identity, rowSeq, delivery.id, delivery.qos, delivery.record, delivery.expiresAt ?? null, rowState);
        rows.set(delivery, { seq: rowSeq, state: rowState });
      } else {
        if (old.state !== rowState) s.setDeliveryState!.run(rowState, identity, old.seq);
        rows.set(delivery, { seq: old.seq, state: rowState });
      }
    };
    for (const entry of state.inflight.values()) keep(entry.delivery, entry.released ? RELEASED : INFLIGHT);
    for (const delivery of state.queue) keep(delivery, QUEUED);
    if (before !== undefined) for (const [delivery, old] of before.rows) if (!rows.has(delivery)) s.deleteDelivery!.run(identity, old.seq);
    return () => this.written.set(identity, { seq, row, rows });
  }

  private writeRetained(topic: string, message: RetainedMessage | undefined): void {
    if (message === undefined) this.statements.deleteRetained!.run(topic);
    else this.statements.putRetained!.run(topic, this.nextSeq++, message.qos, message.encoding, Buffer.from(message.body), message.expiresAt ?? null);
  }

  private sessionStore(): SessionStore {
    const states = this.states;
    const dirty = (identity: string) => {
      this.dirtySessions.add(identity);
      void this.commit();
    };
    const mark = (state: SessionState) => {
      // A clean session is written only to remove one that was persistent under the same identity.
      if (state.persistent || this.written.has(state.identity)) dirty(state.identity);
    };
    return {
      get: (identity) => states.get(identity),
      set: (state) => {
        states.delete(state.identity);
        states.set(state.identity, state);
        mark(state);
      },
      delete: (identity) => {
        states.delete(identity);
        if (this.written.has(identity)) dirty(identity);
        else this.dirtySessions.delete(identity);
      },
      changed: (state) => {
        if (state.persistent) dirty(state.identity);
      },
      commit: () => this.commit(),
      values: () => states.values(),
      get size() {
        return states.size;
      },
    };
  }

  private retainedStore(): RetainedStore {
    const memory = this.retainedMemory;
    return {
      get: (topic) => memory.get(topic),
      set: (message) => {
        memory.set(message);
        this.dirtyRetained.set(message.topic, message);
        void this.commit();
      },
      delete: (topic) => {
        memory.delete(topic);
        this.dirtyRetained.set(topic, undefined);
        void this.commit();
      },
      match: (filter) => memory.match(filter),
      commit: () => this.commit(),
      get size() {
        return memory.size;
      },
    };
  }
}
