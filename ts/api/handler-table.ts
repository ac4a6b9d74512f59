import { HybridwireError } from '../errors.js';
import type { Handler, Router } from '../session/connection.js';
import { newHandlerCalls, startTiming, type DurationSink, type HandlerCalls, type TypeCount } from '../session/handler-calls.js';
import { isReservedType, protocolTypeError } from './reserved-types.js';


/** The handlers of a server or a client, by message type, as its sessions' router. */
export class HandlerTable<Context> implements Router {
  /** Bumped on every change, so that sessions drop the handlers they cached per alias. */
  version = 0;
  private readonly handlers = new Map<string, Handler<Context>>();
  /** The handlers of the protocol's reserved types (`hybridwire:`), set by the features that own them. */
  private readonly protocol = new Map<string, Handler<Context>>();
  /** Calls by type, counted by dispatch (see session/handler-calls.ts); one entry per type that has had a handler looked up. */
  private readonly calls = new Map<string, HandlerCalls>();
  /** While metrics are on: where each type's sampled durations go. */
  private sinkFor: ((type: string) => DurationSink) | undefined;

  /** `fallback` answers the types that have no handler of their own (the server's built-ins). */
  constructor(private readonly fallback?: ReadonlyMap<string, Handler<Context>>) {}

  set(type: string, handler: unknown): void {
    if (typeof handler !== 'function') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'handler must be a function');
    if (typeof type === 'string' && isReservedType(type)) throw protocolTypeError(type);
    this.handlers.set(type, handler as Handler<Context>);
    this.version++;
  }

  /** @internal A feature takes a reserved type; the application's handlers can never shadow it. */
  setProtocol(type: string, handler: Handler<Context>): void {
    this.protocol.set(type, handler);
    this.version++;
  }

  /** Times a sample of every type's handler calls from now on (see session/handler-calls.ts), and counts calls from now on. */
  timeWith(sinkFor: (type: string) => DurationSink): void {
    this.sinkFor = sinkFor;
    for (const calls of this.calls.values()) startTiming(calls, sinkFor(calls.type));
  }

  handlerFor(type: string): Handler<Context> | undefined {
    return this.protocol.get(type) ?? this.handlers.get(type) ?? this.fallback?.get(type);
  }

  callsFor(type: string): HandlerCalls {
    let calls = this.calls.get(type);
    if (calls === undefined) {
      calls = newHandlerCalls(type);
      if (this.sinkFor !== undefined) startTiming(calls, this.sinkFor(type));
      this.calls.set(type, calls);
    }
    return calls;
  }

  /** Calls by type since timing was turned on, busiest first. */
  callCounts(): TypeCount[] {
    return [...this.calls.values()].map((calls) => ({ type: calls.type, messages: calls.calls - calls.countedFrom })).sort((a, b) => b.messages - a.messages || (a.type < b.type ? -1 : 1));
  }
}
