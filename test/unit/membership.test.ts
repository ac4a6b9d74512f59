/**
 * Membership by heartbeats (ts/cluster/membership.ts) over an in-memory engine and fake timers:
 * join, leave, dead within two intervals of the last heartbeat and not before 1.5, a restart under
 * the same name, nobody declared dead while this node is cut off, the leader, bad heartbeats.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Membership } from '../../ts/cluster/membership.js';
import type { ClusterEngine, EngineMessage, EngineStatus } from '../../ts/cluster/engine.js';

/** The few calls Membership makes, over one in-process bus. */
class Bus {
  readonly handlers = new Set<{ subject: string; handler: (message: EngineMessage) => void; engine: FakeEngine }>();
}

class FakeEngine {
  connected = true;
  private readonly listeners: Array<(status: EngineStatus) => void> = [];
  constructor(private readonly bus: Bus) {}
  onStatus(listener: (status: EngineStatus) => void): void {
    this.listeners.push(listener);
  }
  setConnected(connected: boolean): void {
    this.connected = connected;
    for (const listener of this.listeners) listener(connected ? 'connected' : 'disconnected');
  }
  publish(subject: string, data: Uint8Array): void {
    if (!this.connected) return;
    for (const entry of this.bus.handlers) if (entry.subject === subject && entry.engine !== this && entry.engine.connected) entry.handler({ subject, data, headers: {} });
  }
  subscribe(subject: string, handler: (message: EngineMessage) => void) {
    const entry = { subject, handler, engine: this };
    this.bus.handlers.add(entry);
    return { unsubscribe: () => this.bus.handlers.delete(entry) };
  }
}

const HEARTBEAT_MS = 1000;
const SUBJECT = 'hb';

function node(bus: Bus, name: string, instance = `${name}-1`): { membership: Membership; engine: FakeEngine } {
  const engine = new FakeEngine(bus);
  const membership = new Membership(engine as unknown as ClusterEngine, SUBJECT, name, instance, HEARTBEAT_MS, () => 0);
  membership.start();
  return { membership, engine };
}

describe('Membership', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('lists this node first, then the others by name, once heard', () => {
    const bus = new Bus();
    const b = node(bus, 'b');
    const a = node(bus, 'a');
    const c = node(bus, 'c');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect(b.membership.nodes().map((info) => [info.name, info.self])).toEqual([
      ['b', true],
      ['a', false],
      ['c', false],
    ]);
    expect(a.membership.isLeader()).toBe(true);
    expect(b.membership.isLeader()).toBe(false);
    expect(c.membership.nodes()).toHaveLength(3);
  });

  it('a node that stops with a goodbye leaves at once; one that goes silent is dead after 1.5 intervals, within 2', () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    const b = node(bus, 'b');
    const c = node(bus, 'c');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    const left: string[] = [];
    const dead: string[] = [];
    a.membership.on('leave', (info) => left.push(info.name));
    a.membership.on('dead', (info) => dead.push(info.name));
    b.membership.stop();
    expect(left).toEqual(['b']);
    // c's last heartbeat goes out now; then it falls silent (its connection gone, its timers too).
    vi.advanceTimersByTime(HEARTBEAT_MS);
    c.engine.connected = false;
    vi.advanceTimersByTime(HEARTBEAT_MS * 1.5 - 1);
    expect(dead).toEqual([]);
    vi.advanceTimersByTime(HEARTBEAT_MS * 0.5);
    expect(dead).toEqual(['c']);
    expect(a.membership.nodes().map((info) => info.name)).toEqual(['a']);
  });

  it('declares nobody dead while this node is cut off, and gives everyone a fresh 1.5 intervals on reconnection', () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    node(bus, 'b');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    const dead: string[] = [];
    a.membership.on('dead', (info) => dead.push(info.name));
    a.engine.setConnected(false);
    vi.advanceTimersByTime(HEARTBEAT_MS * 10);
    expect(dead).toEqual([]);
    a.engine.setConnected(true);
    vi.advanceTimersByTime(HEARTBEAT_MS * 3);
    expect(dead).toEqual([]);
    expect(a.membership.nodes()).toHaveLength(2);
  });

  it('a node back under the same name with a new instance: its earlier life is dead, the new one joins', () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    const b1 = node(bus, 'b', 'b-1');
    vi.advanceTimersByTime(HEARTBEAT_MS);
    const events: string[] = [];
    a.membership.on('dead', (info) => events.push(`dead ${info.instance}`));
    a.membership.on('join', (info) => events.push(`join ${info.instance}`));
    b1.engine.connected = false;
    node(bus, 'b', 'b-2');
    expect(events).toEqual(['dead b-1', 'join b-2']);
  });

  it('ignores heartbeats that are not JSON or lack a name and instance', () => {
    const bus = new Bus();
    const a = node(bus, 'a');
    const rogue = new FakeEngine(bus);
    for (const bad of ['not json', '{"name":1}', '{"name":"x"}', 'null', '[]']) rogue.publish(SUBJECT, Buffer.from(bad));
    expect(a.membership.nodes()).toHaveLength(1);
  });
});
