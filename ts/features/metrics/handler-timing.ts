/**
 * Handler latency and per-type counts, measured where handlers are called without adding work
 * there: each handler is wrapped once (when metrics are on), the wrapper bumps a plain number per
 * call and times one call in SAMPLE_EVERY with performance.now(). An asynchronous handler's
 * sampled call is timed until its promise settles.
 */
import type { Handler } from '../../session/connection.js';

/** One call in this many is timed: a power of two, so the test is a mask. */
export const SAMPLE_EVERY = 256;
const SAMPLE_MASK = SAMPLE_EVERY - 1;

export interface TypeCount {
  type: string;
  /** Calls of this type's handler since metrics were turned on. */
  messages: number;
}

/** Where sampled durations go (a prom-client histogram child, in seconds). */
export interface DurationSink {
  observe(seconds: number): void;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && !(value instanceof Uint8Array) && typeof (value as PromiseLike<unknown>).then === 'function';
}

/** One call of `handler`, its duration observed (until its promise settles, for a promise). */
function timedCall<Context>(handler: Handler<Context>, sink: DurationSink, payload: unknown, context: Context, info: Parameters<Handler<Context>>[2]): unknown {
  const started = performance.now();
  let result: unknown;
  try {
    result = handler(payload, context, info);
  } finally {
    if (!isThenable(result)) sink.observe((performance.now() - started) / 1000);
  }
  if (isThenable(result)) {
    const settled = () => sink.observe((performance.now() - started) / 1000);
    result.then(settled, settled);
  }
  return result;
}

export class HandlerTiming {
  /** Counts by message type, shared by every wrapper of that type. */
  private readonly counts = new Map<string, TypeCount>();

  constructor(private readonly sinkFor: (type: string) => DurationSink) {}

  /** `handler`, counting its calls and timing a sample of them; same arity, so dispatch passes `info` alike. */
  wrap<Context>(type: string, handler: Handler<Context>): Handler<Context> {
    let count = this.counts.get(type);
    if (count === undefined) {
      count = { type, messages: 0 };
      this.counts.set(type, count);
    }
    const counted = count;
    const sink = this.sinkFor(type);
    // Small enough for V8 to inline where dispatch calls it, and the handler into it: a payload
    // view the handler does not keep is then never allocated. The timed call is out of line.
    // Dispatch gives a MessageInfo only to handlers that declare a third parameter: the wrapper
    // declares one when its handler does.
    if (handler.length > 2) {
      return (payload, context, info) => ((++counted.messages & SAMPLE_MASK) !== 0 ? handler(payload, context, info) : timedCall(handler, sink, payload, context, info));
    }
    return (payload, context) => ((++counted.messages & SAMPLE_MASK) !== 0 ? handler(payload, context, undefined as never) : timedCall(handler, sink, payload, context, undefined as never));
  }

  /** The counts by type, busiest first. */
  types(): TypeCount[] {
    return [...this.counts.values()].sort((a, b) => b.messages - a.messages || (a.type < b.type ? -1 : 1));
  }
}
