/**
 * The broker acknowledges a QoS >= 1 publish only once its store's commit() has settled (what a
 * persistent store relies on, ts/pubsub/stores.ts): a store whose commit the test holds open.
 */
import { describe, expect, it } from 'vitest';
import { MemorySessionStore, type SessionState, type SessionStore } from '../../ts/pubsub/stores.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil } from '../support/wait.js';

closeAfterEach();

/** Memory, with a commit the test can hold open. */
class HeldStore implements SessionStore {
  held: Array<() => void> = [];
  holding = false;
  private readonly memory = new MemorySessionStore();

  get(identity: string): SessionState | undefined {
    return this.memory.get(identity);
  }
  set(state: SessionState): void {
    this.memory.set(state);
  }
  delete(identity: string): void {
    this.memory.delete(identity);
  }
  changed(state: SessionState): void {
    this.memory.changed(state);
  }
  values(): IterableIterator<SessionState> {
    return this.memory.values();
  }
  get size(): number {
    return this.memory.size;
  }
  commit(): undefined | Promise<void> {
    if (!this.holding) return undefined;
    return new Promise((resolve) => this.held.push(resolve));
  }
}

describe('acknowledgement after commit', () => {
  it('PUBACK waits for the commit of the publish', async () => {
    const store = new HeldStore();
    const { tcpPort } = await startServer({ udpPort: false, sessionStore: store });
    const subscriber = await startClient({ tcpPort, udpPort: false, clientId: 'held', cleanSession: false });
    await subscriber.subscribe('t', { qos: 1 });
    const publisher = await startClient({ tcpPort, udpPort: false });
    store.holding = true;
    let acknowledged = false;
    const published = publisher.publish('t', 'x', { qos: 1 }).then(() => {
      acknowledged = true;
    });
    await waitUntil(() => store.held.length > 0, 5000, 'the commit of the publish');
    await publisher.ping();
    expect(acknowledged).toBe(false);
    store.holding = false;
    for (const release of store.held.splice(0)) release();
    await published;
    expect(acknowledged).toBe(true);
  });
});
