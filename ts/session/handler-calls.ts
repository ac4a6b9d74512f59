/**
 * Calls of each message type's handler, counted where dispatch calls them, and the timing of a
 * sample of them once metrics are on: one call in SAMPLE_EVERY at the most, and fewer when a type
 * is busy, so that its calls are timed at most about once a millisecond (a timed call costs two
 * clock reads and a histogram update; at one in 256 and millions of messages a second that was
 * several percent of the receiver's time, see bench/RESULTS.md).
 *
 * The count is kept whether metrics are on or off, one increment per message, and the sample is a
 * comparison with a number that is 0 (never reached) while timing is off: turning metrics on thus
 * adds no work per message but the sampled call itself. A wrapper per handler, the other way to
 * count, costs a call per message and only while metrics are on (bench/RESULTS.md, "The cost of
 * metrics").
 */
import type { Handler, MessageInfo } from './dispatch.js';

/** One call in this many is timed at the most. */
export const SAMPLE_EVERY = 256;
/** One call in this many at the least (a type called more than this many times a millisecond). */
export const MAX_STEP = 65_536;
/** Timed calls of one type closer together than this make the step between them twice as long. */
const MIN_GAP_MS = 1;
/** Further apart than this, the step is halved (down to SAMPLE_EVERY). */
const MAX_GAP_MS = 10;

/** Where sampled durations go (a histogram series, in seconds). */
export interface DurationSink {
  observe(seconds: number): void;
}

/** The calls of one message type's handlers (one object per type, shared by every session). */
export interface HandlerCalls {
  readonly type: string;
  /** Calls since the handler table was made. */
  calls: number;
  /** The value of `calls` whose call is timed next; 0 while timing is off. */
  timedAt: number;
  /** `calls` when timing was turned on, so that counts can be read from then on. */
  countedFrom: number;
  /** Calls from one timed call to the next: SAMPLE_EVERY, doubled while timed calls come within MIN_GAP_MS. */
  step: number;
  /** performance.now() of the last timed call. */
  lastTimed: number;
  sink: DurationSink | undefined;
}

/** Handler calls of one message type since timing was turned on (what metrics report). */
export interface TypeCount {
  type: string;
  messages: number;
}

export function newHandlerCalls(type: string): HandlerCalls {
  return { type, calls: 0, timedAt: 0, countedFrom: 0, step: SAMPLE_EVERY, lastTimed: 0, sink: undefined };
}

/** Times the calls of `calls.type` from now on, one in SAMPLE_EVERY, into `sink`. */
export function startTiming(calls: HandlerCalls, sink: DurationSink): void {
  calls.sink = sink;
  calls.countedFrom = calls.calls;
  calls.step = SAMPLE_EVERY;
  calls.timedAt = calls.calls + SAMPLE_EVERY;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * The sampled call (dispatch makes it when `++calls.calls === calls.timedAt`): the handler's
 * duration is observed, until its promise settles for a promise; a throw is observed and let through.
 * Out of line, so that dispatch's usual path stays small enough for V8 to inline.
 */
export function timedCall<Context>(calls: HandlerCalls, handler: Handler<Context>, payload: unknown, context: Context, info: MessageInfo): unknown {
  const sink = calls.sink;
  const started = performance.now();
  const gap = started - calls.lastTimed;
  calls.lastTimed = started;
  if (gap < MIN_GAP_MS) calls.step = Math.min(MAX_STEP, calls.step * 2);
  else if (gap > MAX_GAP_MS) calls.step = Math.max(SAMPLE_EVERY, calls.step / 2);
  calls.timedAt += calls.step;
  let result: unknown;
  try {
    result = handler(payload as never, context, info);
  } finally {
    if (sink !== undefined && !isThenable(result)) sink.observe((performance.now() - started) / 1000);
  }
  if (sink !== undefined && isThenable(result)) {
    const settled = () => sink.observe((performance.now() - started) / 1000);
    result.then(settled, settled);
  }
  return result;
}
