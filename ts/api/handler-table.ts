import { HybridwireError } from '../errors.js';
import type { Handler, Router } from '../session/connection.js';

/** The handlers of a server or a client, by message type, as its sessions' router. */
export class HandlerTable<Context> implements Router {
  /** Bumped on every change, so that sessions drop the handlers they cached per alias. */
  version = 0;
  private readonly handlers = new Map<string, Handler<Context>>();

  /** `fallback` answers the types that have no handler of their own (the server's built-ins). */
  constructor(private readonly fallback?: ReadonlyMap<string, Handler<Context>>) {}

  set(type: string, handler: unknown): void {
    if (typeof handler !== 'function') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'handler must be a function');
    this.handlers.set(type, handler as Handler<Context>);
    this.version++;
  }

  handlerFor(type: string): Handler<Context> | undefined {
    return this.handlers.get(type) ?? this.fallback?.get(type);
  }
}
