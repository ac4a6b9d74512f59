/**
 * The acknowledgements that wait (docs/PROTOCOL.md, section 6: *(local)* an ACK that no data
 * carried goes about 1 ms after the turn that owed it), for every session of the process, on one
 * timer: a process with many sessions receiving in the same millisecond arms one timer rather than
 * one per session, and writes their ACKs in one callback. A session that stops while it waits is
 * cancelled (cancelDelayedAck): its entry is skipped when the timer runs, and the timer is cleared
 * when no session waits any more. The list holds each session at most once (ackPending is set
 * while it is listed), so it is bounded by the number of sessions.
 */

/** A send path that may owe its peer a delayed ACK. */
export interface DelayedAck {
  /** Set while it waits in the list. */
  ackPending: boolean;
  /** The delay has passed: send the ACK if it is still owed. */
  ackDue(): void;
}

/** Longest an acknowledgement waits to be coalesced with later ones (or to ride on outgoing data). */
export const ACK_DELAY_MS = 1;

let waiting: DelayedAck[] = [];
let spare: DelayedAck[] = [];
let timer: NodeJS.Timeout | undefined;
/** Those listed whose ackPending is still set. */
let pending = 0;

/** Sends `target`'s ACK within ACK_DELAY_MS, unless it clears ackPending first. */
export function acknowledgeLater(target: DelayedAck): void {
  if (target.ackPending) return;
  target.ackPending = true;
  pending++;
  waiting.push(target);
  if (timer === undefined) {
    timer = setTimeout(runDue, ACK_DELAY_MS);
    timer.unref();
  }
}

/** `target` (a session that stopped) owes no ACK any more. */
export function cancelDelayedAck(target: DelayedAck): void {
  if (!target.ackPending) return;
  target.ackPending = false;
  if (--pending === 0 && timer !== undefined) {
    clearTimeout(timer);
    timer = undefined;
    waiting.length = 0;
  }
}

/** How many sessions wait for their ACK's delay. */
export function delayedAckCount(): number {
  return pending;
}

function runDue(): void {
  timer = undefined;
  // Those that come due while these are sent (a flush may owe another) wait for the next timer.
  const due = waiting;
  waiting = spare;
  spare = due;
  let next = 0;
  try {
    while (next < due.length) {
      const target = due[next++]!;
      if (!target.ackPending) continue;
      target.ackPending = false;
      pending--;
      target.ackDue();
    }
  } finally {
    // After one that threw, the rest go with the next timer.
    for (let i = next; i < due.length; i++) {
      const target = due[i]!;
      if (!target.ackPending) continue;
      target.ackPending = false;
      pending--;
      acknowledgeLater(target);
    }
    due.length = 0;
  }
}
