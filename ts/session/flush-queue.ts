/**
 * Flushes at the end of the current turn: the sessions whose flush is due, DUE[dueHead, dueCount),
 * are flushed by one microtask, so that a session holds no callback of its own for it. Entries are
 * cleared, never the array's length (which would give up its storage, to be allocated again next
 * turn).
 */

/** A send path whose flush can be owed: `flushScheduled` is set while it is in the queue. */
export interface Flushable {
  flushScheduled: boolean;
  flush(): void;
}

const DUE: Array<Flushable | undefined> = [];
let dueHead = 0;
let dueCount = 0;
const SETTLED = Promise.resolve();

/** Queues `target`, which has just set its flushScheduled, for a flush once this turn's synchronous work is done. */
export function flushAtEndOfTurn(target: Flushable): void {
  DUE[dueCount++] = target;
  // A reaction on a settled promise is the cheapest microtask: queueMicrotask() allocates an
  // AsyncResource and a bound function per call.
  if (dueCount === 1) SETTLED.then(flushDue);
}

/** Flushes those whose flush is due (those flushed meanwhile have nothing to do). */
function flushDue(): void {
  try {
    while (dueHead < dueCount) {
      const target = DUE[dueHead]!;
      DUE[dueHead++] = undefined;
      if (target.flushScheduled) target.flush();
    }
  } finally {
    // After a flush that threw, the others still go, in a microtask of their own.
    if (dueHead < dueCount) SETTLED.then(flushDue);
    else dueHead = dueCount = 0;
  }
}
