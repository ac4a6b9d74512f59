import { describe, expect, it } from 'vitest';
import { broadcastTo } from '../../ts/api/broadcast.js';
import type { Peer } from '../../ts/api/peer.js';
import { HybridwireError } from '../../ts/errors.js';

/** A peer whose connection records what it is given, or throws `error`. */
function fakePeer(state: string, error?: Error) {
  const sent: unknown[][] = [];
  const peer = {
    connection: {
      state,
      sendEncoded: (...args: unknown[]) => {
        if (error) throw error;
        sent.push(args);
        return true;
      },
    },
  } as unknown as Peer;
  return { peer, sent };
}

describe('broadcastTo', () => {
  it('sends once-encoded bodies to open sessions but the excepted one, and reports failures per peer', () => {
    const a = fakePeer('open');
    const b = fakePeer('open');
    const closing = fakePeer('closing');
    const full = fakePeer('open', new HybridwireError('HW_ERR_SEND_QUEUE_FULL', 'full'));
    const failures: Array<[Peer, unknown]> = [];
    const count = broadcastTo([a.peer, b.peer, closing.peer, full.peer], 'news', { n: 1 }, { except: b.peer }, (peer, error) => failures.push([peer, error]));
    expect(count).toBe(1);
    expect(a.sent).toHaveLength(1);
    expect(a.sent[0]!.slice(0, 3)).toEqual(['news', expect.any(Number), '{"n":1}']);
    expect(b.sent).toHaveLength(0);
    expect(closing.sent).toHaveLength(0);
    expect(failures).toHaveLength(1);
    expect(failures[0]![0]).toBe(full.peer);
  });

  it('refuses a bad type name before sending anything', () => {
    const a = fakePeer('open');
    expect(() => broadcastTo([a.peer], '', 1, {}, () => {})).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(a.sent).toHaveLength(0);
  });
});
