/**
 * The SQLite store of `persistence` (ts/pubsub/persistent-store.ts): group commit, what is written
 * and read back (sessions, their deliveries in order with their states, retained messages in the
 * order stored), the bounds applied on load, and the refusals of a store it cannot use.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { PersistentStore, checkPersistence } from '../../ts/pubsub/persistent-store.js';
import { newSessionState, type QueuedDelivery } from '../../ts/pubsub/stores.js';

const LIMITS = { maxOfflineMessages: 1000, maxOfflineBytes: 1 << 20, maxRetainedMessages: 100_000 };
const dirs: string[] = [];
const open: PersistentStore[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybridwire-store-'));
  dirs.push(dir);
  return dir;
}
function openStore(dir: string, limits = LIMITS): PersistentStore {
  const store = new PersistentStore(dir, limits);
  open.push(store);
  return store;
}
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const delivery = (id: number, bytes = 4): QueuedDelivery => ({ id, qos: 1, record: Buffer.alloc(bytes, id), expiresAt: undefined });

describe('PersistentStore', () => {
  it('returns undefined from commit() when nothing changed, and one promise for the commits of one turn', async () => {
    const store = openStore(tempDir());
    expect(store.sessions.commit()).toBeUndefined();
    const state = newSessionState('a', true, 1000);
    store.sessions.set(state);
    const first = store.sessions.commit();
    store.retained.set({ topic: 't', qos: 0, encoding: 0, body: Buffer.from('x'), expiresAt: undefined });
    expect(first).toBeInstanceOf(Promise);
    expect(store.retained.commit()).toBe(first);
    await first;
    expect(store.sessions.commit()).toBeUndefined();
  });

  it('has written the changes, for another reader of the file to see, when commit() resolves', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const state = newSessionState('seen', true, 1000);
    state.queue.push(delivery(5));
    state.queuedBytes += 4;
    store.sessions.set(state);
    store.retained.set({ topic: 'r', qos: 1, encoding: 0, body: Buffer.from('x'), expiresAt: undefined });
    const reader = new Database(path.join(dir, 'pubsub.sqlite'), { readonly: true });
    const count = (table: string) => (reader.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    expect([count('sessions'), count('deliveries'), count('retained')]).toEqual([0, 0, 0]);
    await store.sessions.commit();
    expect([count('sessions'), count('deliveries'), count('retained')]).toEqual([1, 1, 1]);
    reader.close();
  });

  it('writes a session, its subscriptions, deliveries in order with their states, and QoS 2 ids; reads them back', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const state = newSessionState('client', true, 60_000);
    state.subscriptions.set('a/+', { qos: 2, noLocal: true, transport: 'udp', reliable: true });
    state.inflight.set(7, { delivery: { ...delivery(7), qos: 2 }, released: true, sentAt: 1 });
    state.inflight.set(8, { delivery: delivery(8), released: false, sentAt: 1 });
    for (const id of [9, 10, 11]) {
      state.queue.push(delivery(id));
      state.queuedBytes += 4;
    }
    state.receivedQos2.add(42);
    store.sessions.set(state);
    await store.sessions.commit();
    // One acknowledged, one sent from the queue: the rows follow.
    state.inflight.delete(8);
    const sent = state.queue.shift()!;
    state.queuedBytes -= 4;
    state.inflight.set(sent.id, { delivery: sent, released: false, sentAt: 2 });
    store.sessions.changed(state);
    await store.sessions.commit();
    await store.close();

    const again = openStore(dir);
    const loaded = again.sessions.get('client')!;
    expect(loaded.persistent).toBe(true);
    expect(loaded.sessionExpiryMs).toBe(60_000);
    expect([...loaded.subscriptions]).toEqual([['a/+', { qos: 2, noLocal: true, transport: 'udp', reliable: true }]]);
    expect([...loaded.inflight].map(([id, entry]) => [id, entry.delivery.qos, entry.released])).toEqual([
      [7, 2, true],
      [9, 1, false],
    ]);
    expect(loaded.queue.map((d) => d.id)).toEqual([10, 11]);
    expect(loaded.queuedBytes).toBe(8);
    expect(loaded.queue[0]!.record).toEqual(Buffer.alloc(4, 10));
    expect([...loaded.receivedQos2]).toEqual([42]);
  });

  it('does not write clean sessions, and removes a deleted persistent one', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    store.sessions.set(newSessionState('clean', false, 0));
    store.sessions.set(newSessionState('kept', true, 1000));
    store.sessions.set(newSessionState('gone', true, 1000));
    await store.sessions.commit();
    store.sessions.delete('gone');
    await store.sessions.commit();
    await store.close();
    expect([...openStore(dir).sessions.values()].map((s) => s.identity)).toEqual(['kept']);
  });

  it('keeps retained messages in the order stored; a deleted one is gone', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    for (const topic of ['z', 'a', 'm']) store.retained.set({ topic, qos: 1, encoding: 0, body: Buffer.from(topic), expiresAt: 123 });
    store.retained.delete('a');
    await store.retained.commit();
    await store.close();
    const again = openStore(dir);
    expect([...again.retained.match('#')].map((m) => m.topic)).toEqual(['z', 'm']);
    expect(again.retained.get('m')).toMatchObject({ qos: 1, body: Buffer.from('m'), expiresAt: 123 });
  });

  it('applies lowered bounds on load: the oldest queued and retained go', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const state = newSessionState('s', true, 1000);
    for (let id = 1; id <= 5; id++) {
      state.queue.push(delivery(id, 10));
      state.queuedBytes += 10;
    }
    store.sessions.set(state);
    for (const topic of ['r1', 'r2', 'r3']) store.retained.set({ topic, qos: 0, encoding: 0, body: Buffer.from(topic), expiresAt: undefined });
    await store.sessions.commit();
    await store.close();
    const smaller = openStore(dir, { maxOfflineMessages: 3, maxOfflineBytes: 25, maxRetainedMessages: 2 });
    expect(smaller.sessions.get('s')!.queue.map((d) => d.id)).toEqual([4, 5]);
    expect([...smaller.retained.match('#')].map((m) => m.topic)).toEqual(['r2', 'r3']);
    await smaller.sessions.commit();
    await smaller.close();
    expect(openStore(dir).sessions.get('s')!.queue.map((d) => d.id)).toEqual([4, 5]);
  });

  it('a commit that fails rejects with HW_ERR_STORE_UNAVAILABLE and leaves its changes for the next one', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const state = newSessionState('s', true, 1000);
    store.sessions.set(state);
    await store.sessions.commit();
    // The table the deliveries go to disappears under the store (as a broken disk would refuse writes).
    const other = new Database(path.join(dir, 'pubsub.sqlite'));
    const schema = (other.prepare("SELECT sql FROM sqlite_master WHERE name = 'deliveries'").get() as { sql: string }).sql;
    other.exec('DROP TABLE deliveries');
    state.queue.push(delivery(1));
    state.queuedBytes += 4;
    store.sessions.changed(state);
    await expect(store.sessions.commit()).rejects.toMatchObject({ code: 'HW_ERR_STORE_UNAVAILABLE' });
    other.exec(schema);
    other.close();
    expect(store.sessions.commit()).toBeInstanceOf(Promise);
    await store.sessions.commit();
    await store.close();
    expect(openStore(dir).sessions.get('s')!.queue.map((d) => d.id)).toEqual([1]);
  });

  it('refuses a file that is not its database, and one of another schema version, with HW_ERR_STORE_UNAVAILABLE', () => {
    const garbage = tempDir();
    fs.writeFileSync(path.join(garbage, 'pubsub.sqlite'), Buffer.alloc(4096, 1));
    expect(() => openStore(garbage)).toThrow(expect.objectContaining({ code: 'HW_ERR_STORE_UNAVAILABLE', message: expect.stringContaining('SQLITE_NOTADB') }));
    const future = tempDir();
    const db = new Database(path.join(future, 'pubsub.sqlite'));
    db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL); INSERT INTO meta VALUES ('schema', 99)");
    db.close();
    expect(() => openStore(future)).toThrow(expect.objectContaining({ code: 'HW_ERR_STORE_UNAVAILABLE', message: expect.stringContaining('schema version 99') }));
  });

  it('checkPersistence takes { dir } and refuses anything else', () => {
    expect(checkPersistence(undefined)).toBeUndefined();
    expect(checkPersistence({ dir: '/x' })).toEqual({ dir: '/x' });
    for (const bad of [null, 'x', {}, { dir: '' }, { dir: 1 }]) expect(() => checkPersistence(bad)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION' }));
  });
});
