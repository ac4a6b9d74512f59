import { describe, expect, it } from 'vitest';
import { flushAtEndOfTurn, type Flushable } from '../../ts/session/flush-queue.js';

/** A send path stand-in that records its flushes, as Outbound does (flushScheduled cleared by flush). */
function target(name: string, log: string[], fail = false): Flushable {
  return {
    flushScheduled: true,
    flush() {
      this.flushScheduled = false;
      log.push(name);
      if (fail) throw new Error(`${name} failed`);
    },
  };
}

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('flushAtEndOfTurn', () => {
  it('flushes every queued target once, in order, after the synchronous work of the turn', async () => {
    const log: string[] = [];
    flushAtEndOfTurn(target('a', log));
    flushAtEndOfTurn(target('b', log));
    log.push('sync');
    await endOfTurn();
    expect(log).toEqual(['sync', 'a', 'b']);
  });

  it('skips a target flushed meanwhile (its flushScheduled cleared)', async () => {
    const log: string[] = [];
    const early = target('early', log);
    flushAtEndOfTurn(early);
    flushAtEndOfTurn(target('late', log));
    early.flush();
    await endOfTurn();
    expect(log).toEqual(['early', 'late']);
  });

  it('a flush that throws does not cost the others theirs, and the queue works again afterwards', async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const onRejection = (error: unknown) => errors.push(error);
    process.on('unhandledRejection', onRejection);
    try {
      flushAtEndOfTurn(target('bad', log, true));
      flushAtEndOfTurn(target('good', log));
      await endOfTurn();
      await endOfTurn();
      expect(log).toEqual(['bad', 'good']);
      expect(errors).toHaveLength(1);
      flushAtEndOfTurn(target('next', log));
      await endOfTurn();
      expect(log).toEqual(['bad', 'good', 'next']);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});
