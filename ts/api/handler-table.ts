import { HybridwireError } from '../errors.js';
import type { Handler, Router } from '../session/connection.js';
import { isReservedType, protocolTypeError } from './reserved-types.js';

/** The handlers of a server or a client, by message type, as its sessions' router. */
export class HandlerTable<Context> implements Router {
  /** Bumped on every change, so that sessions drop the handlers they cached per alias. */
  version = 0;
  private readonly handlers = new Map<string, Handler<Context>>();
  /** The handlers of the protocol's reserved types (`hybridwire:`), set by the features that own them. */
  private readonly protocol = new Map<string, Handler<Context>>();
  /** While metrics are on: wraps each handler once (see features/metrics/handler-timing.ts). */
  private instrument: ((type: string, handler: Handler<Context>) => Handler<Context>) | undefined;
  private readonly instrumented = new Map<string, Handler<Context>>();

  /** `fallback` answers the types that have no handler of their own (the server's built-ins). */
  constructor(private readonly fallback?: ReadonlyMap<string, Handler<Context>>) {}

  set(type: string, handler: unknown): void {
    if (typeof handler !== 'function') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'handler must be a function');
    if (typeof type === 'string' && isReservedType(type)) throw protocolTypeError(type);
    this.handlers.set(type, handler as Handler<Context>);
    this.instrumented.delete(type);
    this.version++;
  }

  /** @internal A feature takes a reserved type; the application's handlers can never shadow it. */
  setProtocol(type: string, handler: Handler<Context>): void {
    this.protocol.set(type, handler);
    this.instrumented.delete(type);
    this.version++;
  }

  /** Handlers are looked up through `wrap` from now on; sessions drop the ones they cached. */
  instrumentWith(wrap: (type: string, handler: Handler<Context>) => Handler<Context>): void {
    this.instrument = wrap;
    this.instrumented.clear();
    this.version++;
  }

  handlerFor(type: string): Handler<Context> | undefined {
    const handler = this.protocol.get(type) ?? this.handlers.get(type) ?? this.fallback?.get(type);
    if (handler === undefined || this.instrument === undefined) return handler;
    let wrapped = this.instrumented.get(type);
    if (wrapped === undefined) {
      wrapped = this.instrument(type, handler);
      this.instrumented.set(type, wrapped);
    }
    return wrapped;
  }
}
