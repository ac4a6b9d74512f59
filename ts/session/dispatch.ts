/**
 * The receive path of one session, past the frame decoder: MESSAGE frames (plain, BATCH or
 * COMPRESSED) and TYPE_DEF, the handler of each message, requests and their replies, and the
 * responses to our own requests.
 *
 * Hot path, per message: the shapes of nearly all traffic (binary bodies of a known alias to a
 * handler that takes no info, and responses) read their prefix with byte loads, find the handler
 * in a per-alias cache and call it on a view of the chunk: no copy, no string decoding, no closure.
 */
import type { SessionCompression } from '../compression/session-compression.js';
import { FrameFlag } from '../codec/frame.js';
import { HybridwireError, RemoteError } from '../errors.js';
import { RequestTable } from './requests.js';
import { Encoding, INLINE_TYPE, MessageKind, decodeBody, decodeTypeDef, newMessageHeader, readMessageHeader, type Payload } from './message.js';
import type { Outbound } from './outbound.js';
import type { SendOptions, Transport } from './send-options.js';
import type { SessionCounters } from './session-stats.js';
import type { SessionState } from './connection.js';
import { ReceiveLimiter, type LimitedReceiver } from '../qos/receive-limiter.js';
import { timedCall, type HandlerCalls } from './handler-calls.js';
import type { QosSettings } from '../qos/qos-settings.js';

/** What a handler may learn about the message it handles (third argument, when declared). */
export interface MessageInfo {
  type: string;
  transport: Transport;
  /** Set when the sender awaits a reply: the handler's return value (or resolved value) is sent back. */
  requestId: number | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<Context = any> = (payload: any, context: Context, info: MessageInfo) => unknown;

export interface Router {
  handlerFor(type: string): Handler | undefined;
  /** The call count of a type's handlers (one per type, shared by sessions), made on first use. */
  callsFor(type: string): HandlerCalls;
  /** Changes whenever a handler is added or replaced, so that cached lookups are refreshed. */
  readonly version: number;
}

/** What the receive path needs of the session it serves. */
export interface DispatchHost {
  readonly state: SessionState;
  readonly features: ReadonlySet<string>;
  /** A message whose type has no handler. */
  unhandledMessage(type: string, value: Payload, info: MessageInfo): void;
  /** A failure that does not end the session (a handler's, or one of ours), for the application to see. */
  reportError(error: Error): void;
  /** Too many handlers are in progress (true), or few enough again (false). */
  pauseForHandlers(paused: boolean): void;
  /** Closes the session after telling the peer why (a rate limit with action 'disconnect', over UDP). */
  fail?(error: HybridwireError): void;
  /** A handler that returned a promise has settled. */
  handlerSettled(): void;
}

export interface DispatchLimits {
  maxFrameSize: number;
  maxPendingRequests: number;
  maxPendingHandlers: number;
  /** Bytes of type names the peer may bind to aliases over the session (TYPE_DEF). */
  maxAliasBytes: number;
  /** Rate limits on what the peer sends, and the QoS counters (ts/qos/qos-settings.ts). */
  qos?: QosSettings;
}

interface AliasHandler {
  handler: Handler;
  type: string;
  /** Declared a third parameter: gets a MessageInfo object (allocated only for such handlers). */
  wantsInfo: boolean;
  calls: HandlerCalls;
}

/**
 * Whether a request handler's result is a promise (any thenable object) to wait for. A binary
 * reply is tested first: reading the missing `then` of a typed array is a slow generic property
 * lookup, even in optimized code.
 */
function isPending(result: unknown): result is Promise<unknown> {
  if (result instanceof Uint8Array || result === null || typeof result !== 'object') return false;
  return typeof (result as Promise<unknown>).then === 'function';
}

/**
 * The parsed prefix of the message being received: one for all sessions, since its fields are
 * read before anything that could receive another message (a handler) runs.
 */
const HEADER = newMessageHeader();

/** The handler cache before its first lookup, which replaces it (see handlerForAlias): never added to. */
const NO_HANDLERS: ReadonlyArray<AliasHandler | null | undefined> = [];

/** The error reply to a request dropped by a rate limit. */
const RATE_LIMITED = new HybridwireError('HW_ERR_RATE_LIMITED', 'the request passed a rate limit and was dropped');

/** The little-endian u32 at source[at, at + 4); the caller has checked the bounds. */
function readWord(source: Uint8Array, at: number): number {
  return (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24)) >>> 0;
}

export class Dispatcher implements LimitedReceiver {
  /** The second argument of every handler: the Peer or Client this session belongs to. */
  context: unknown;
  /** The session's negotiated compression (set when it opens); undefined: none, and COMPRESSED frames are refused. */
  compression: SessionCompression | undefined;
  /** Our requests awaiting the peer's reply: made with the first (most servers' sessions never request). */
  private requestTable: RequestTable | undefined;
  /** Handlers that returned a promise not yet settled. */
  pendingHandlers = 0;
  /** Dispatch stops while pendingHandlers is at least this: maxPendingHandlers, or 0 while a rate limit holds the peer. */
  handlerLimit: number;
  /** The server's rate limits on this peer (ts/qos/receive-limiter.ts), if it has any. */
  readonly limiter: ReceiveLimiter | undefined;

  /** Made with the first TYPE_DEF, as the handler cache with the first lookup: many sessions never get a message. */
  private inAliases: Array<string | undefined> | undefined;
  /** UTF-8 bytes of the names in inAliases: they live as long as the session, so they are bounded. */
  private aliasBytes = 0;
  private aliasHandlers: ReadonlyArray<AliasHandler | null | undefined> = NO_HANDLERS;
  private handlersVersion = -1;
  private pausedForHandlers = false;

  constructor(
    private readonly host: DispatchHost,
    private readonly router: Router,
    private readonly outbound: Outbound,
    private readonly counters: SessionCounters,
    private readonly limits: DispatchLimits,
    context: unknown,
  ) {
    this.context = context;
    this.handlerLimit = limits.maxPendingHandlers;
    this.limiter = ReceiveLimiter.needed(limits.qos) ? new ReceiveLimiter(limits.qos, this) : undefined;
  }

  /** Our requests awaiting the peer's reply. */
  get requests(): RequestTable {
    return (this.requestTable ??= new RequestTable(this.limits.maxPendingRequests));
  }

  /** How many of our requests await a reply. */
  get pendingRequests(): number {
    return this.requestTable?.size ?? 0;
  }

  /** Fails every request awaiting a reply (the session has closed). */
  rejectRequests(error: Error): void {
    this.requestTable?.rejectAll(error);
    this.limiter?.stop();
  }

  /** @internal The type of the message at source[start, end) (undefined if its alias is unknown). */
  typeAt(source: Buffer, start: number, end: number): string | undefined {
    const header = readMessageHeader(source, start, end, HEADER);
    return header.alias === INLINE_TYPE ? header.inlineName : this.inAliases?.[header.alias];
  }

  /** @internal A rate limit stops dispatch (true) until its bucket has refilled (false). */
  holdForRateLimit(held: boolean): void {
    this.handlerLimit = held ? 0 : this.limits.maxPendingHandlers;
    // Frames kept for the hold go on now, unless the handler limit holds them too (it resumes them).
    if (!held && !this.pausedForHandlers) this.host.pauseForHandlers(false);
  }

  /**
   * A MESSAGE frame's payload, source[start, end), received over TCP. Returns `end`, or, for a
   * BATCH frame in which dispatch stopped at maxPendingHandlers, the offset of the entry to go on
   * from once handlers have finished.
   */
  receiveFrame(source: Buffer, start: number, end: number, flags: number): number {
    if ((flags & FrameFlag.BATCH) !== 0) {
      // A batch is never compressed (docs/PROTOCOL.md, "Compression"): such a frame could be read
      // two ways, so it is refused rather than guessed at.
      if ((flags & FrameFlag.COMPRESSED) !== 0) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'a MESSAGE frame may not be both BATCH and COMPRESSED');
      return this.receiveBatch(source, start, end);
    } else if ((flags & FrameFlag.COMPRESSED) !== 0) {
      this.counters.tcp.messagesIn++;
      const plain = this.decompress(source, start, end);
      this.receiveMessage(plain, 0, plain.length, 'tcp');
    } else {
      this.counters.tcp.messagesIn++;
      this.receiveMessage(source, start, end, 'tcp');
    }
    return end;
  }

  /** A TYPE_DEF frame: the peer names the type behind an alias, once per alias. */
  defineAlias(payload: Uint8Array): void {
    const { alias, name } = decodeTypeDef(payload);
    const names = (this.inAliases ??= []);
    if (names[alias] !== undefined) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `alias ${alias} is defined twice`);
    const aliasBytes = this.aliasBytes + payload.length - 2;
    if (aliasBytes > this.limits.maxAliasBytes) {
      throw new HybridwireError('HW_ERR_BAD_MESSAGE', `type aliases would hold ${aliasBytes} bytes of names; maxAliasBytes is ${this.limits.maxAliasBytes}`);
    }
    this.aliasBytes = aliasBytes;
    names[alias] = name;
  }

  /**
   * A MESSAGE (at datagram[start, end)) from a datagram authenticated as this session's; `via`
   * says how it came, so that the reply to a request goes back the same way. A malformed message
   * is dropped and counted, as a lost datagram would be; any other failure is reported.
   */
  receiveDatagramMessage(datagram: Buffer, start: number, end: number, via: SendOptions, flags = 0): void {
    const udpCounts = this.counters.udp;
    udpCounts.messagesIn++;
    udpCounts.bytesIn += end - start;
    // UDP cannot be paused as TCP is: at maxPendingHandlers, a one-way message is dropped (as a
    // lost datagram would be) and a request answered at once, so that no sender can start more.
    if (this.pendingHandlers >= this.limits.maxPendingHandlers && end - start >= 4) {
      const kind = datagram[start + 3];
      if (kind === MessageKind.MESSAGE || kind === MessageKind.REQUEST) {
        udpCounts.dropped++;
        if (kind === MessageKind.REQUEST && end - start >= 8) {
          const error = new HybridwireError('HW_ERR_TOO_MANY_REQUESTS', `${this.pendingHandlers} handlers are in progress (maxPendingHandlers)`);
          this.replyError(readWord(datagram, start + 4), error, via);
        }
        return;
      }
    }
    try {
      if ((flags & FrameFlag.COMPRESSED) === 0) {
        this.receiveMessage(datagram, start, end, 'udp', via);
      } else {
        // Only in a session that agreed udp-compression (docs/PROTOCOL.md 12); the endpoint lets it through on RELIABLE frames only.
        if (!this.host.features.has('udp-compression')) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'compressed datagram on a session that did not agree udp-compression');
        const plain = this.decompress(datagram, start, end);
        this.receiveMessage(plain, 0, plain.length, 'udp', via);
      }
    } catch (error) {
      udpCounts.dropped++;
      if (!(error instanceof HybridwireError)) this.host.reportError(error as Error);
      else if (error.code === 'HW_ERR_RATE_LIMITED') this.host.fail?.(error);
    }
  }

  /** A COMPRESSED payload: the u32 size of the message, then the message compressed (docs/PROTOCOL.md 12). */
  private decompress(source: Buffer, start: number, end: number): Buffer {
    const compression = this.compression;
    if (compression === undefined) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'compressed frame on a session that negotiated no compression');
    const plain = compression.decompress(source, start, end, this.limits.maxFrameSize);
    this.counters.compressedIn++;
    return plain;
  }

  /**
   * A BATCH frame's payload: entries of a u32 length and a message, back to back. Stops before an
   * entry while maxPendingHandlers handlers are in progress; returns where it stopped, or `end`.
   */
  private receiveBatch(source: Buffer, start: number, end: number): number {
    let at = start;
    let entries = 0;
    // Read once per frame, not per entry: `buffer` is an accessor that optimized code still calls.
    const memory = source.buffer;
    const base = source.byteOffset;
    try {
      while (at < end && this.host.state !== 'closed') {
        // Read per entry: a rate limit may stop dispatch within a batch (handlerLimit 0).
        if (this.pendingHandlers >= this.handlerLimit) return at;
        if (end - at < 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'batch entry length truncated');
        // Byte loads: cheaper here than Buffer#readUInt32LE and its checks, which the bound below makes redundant.
        const length = readWord(source, at);
        if (length > end - at - 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `batch entry of ${length} bytes overruns its frame`);
        entries++;
        this.receiveMessage(source, at + 4, at + 4 + length, 'tcp', undefined, memory, base);
        at += 4 + length;
      }
    } finally {
      this.counters.tcp.messagesIn += entries;
    }
    return end;
  }

  /** `memory` and `base` are source's buffer and byteOffset, when the caller has them already. */
  private receiveMessage(
    source: Buffer,
    start: number,
    end: number,
    transport: Transport,
    via?: SendOptions,
    memory: ArrayBufferLike = source.buffer,
    base: number = source.byteOffset,
  ): void {
    if (this.limiter !== undefined && !this.limiter.admit(source, start, end, transport === 'udp')) {
      // Over a rate limit that drops: a request is answered HW_ERR_RATE_LIMITED, the session stays.
      if (source[start + 3] === MessageKind.REQUEST && end - start >= 8) this.replyError(readWord(source, start + 4), RATE_LIMITED, via);
      return;
    }
    // Fast paths for the shapes of nearly all traffic, binary bodies: a message or request of a
    // known alias to a handler that takes no info, and a response. They read the prefix with byte
    // loads (once) and skip the general parse; anything else (JSON, inline names, errors) takes it.
    const length = end - start;
    if (length >= 4 && source[start + 2] === Encoding.BINARY) {
      const kind = source[start + 3];
      const alias = source[start]! | (source[start + 1]! << 8);
      if (kind === MessageKind.MESSAGE) {
        const entry = alias === INLINE_TYPE || this.handlersVersion !== this.router.version ? undefined : this.aliasHandlers[alias];
        if (entry != null && !entry.wantsInfo) {
          this.runHandler(entry, new Uint8Array(memory, base + start + 4, length - 4));
          return;
        }
      } else if (length >= 8 && alias !== INLINE_TYPE) {
        if (kind === MessageKind.RESPONSE) {
          this.requestTable?.resolve(readWord(source, start + 4), new Uint8Array(memory, base + start + 8, length - 8));
          return;
        }
        if (kind === MessageKind.REQUEST) {
          const entry = this.handlersVersion !== this.router.version ? undefined : this.aliasHandlers[alias];
          if (entry != null && !entry.wantsInfo) {
            this.answerRequest(entry, readWord(source, start + 4), new Uint8Array(memory, base + start + 8, length - 8), via);
            return;
          }
        }
      }
    }
    this.receiveGeneral(source, start, end, transport, via);
  }

  /** Runs a one-way message's handler (one that takes no info). */
  private runHandler(entry: AliasHandler, value: Uint8Array): void {
    const calls = entry.calls;
    let result: unknown;
    try {
      result = ++calls.calls !== calls.timedAt ? entry.handler(value, this.context, undefined as never) : timedCall(calls, entry.handler, value, this.context, undefined as never);
    } catch (error) {
      this.handlerFailed(undefined, entry.type, error);
      return;
    }
    if (result !== undefined && result !== null && typeof (result as Promise<unknown>).then === 'function') {
      this.awaitHandler(result as Promise<unknown>, undefined, entry.type);
    }
  }

  /** Runs a request's handler (one that takes no info) and replies with what it returns or resolves to. */
  private answerRequest(entry: AliasHandler, requestId: number, value: Payload, via: SendOptions | undefined): void {
    const calls = entry.calls;
    let result: unknown;
    try {
      result = ++calls.calls !== calls.timedAt ? entry.handler(value, this.context, undefined as never) : timedCall(calls, entry.handler, value, this.context, undefined as never);
    } catch (error) {
      this.handlerFailed(requestId, entry.type, error, via);
      return;
    }
    if (isPending(result)) this.awaitHandler(result, requestId, entry.type, via);
    else this.reply(requestId, result as Payload, via);
  }

  private receiveGeneral(source: Buffer, start: number, end: number, transport: Transport, via: SendOptions | undefined): void {
    const header = readMessageHeader(source, start, end, HEADER);
    const kind = header.kind;
    if (kind === MessageKind.RESPONSE) {
      // Decoded even with no request waiting: a body that cannot be is the peer's error all the same.
      const value = decodeBody(source, end, header);
      this.requestTable?.resolve(header.requestId, value);
      return;
    }
    if (kind === MessageKind.ERROR) {
      const body = decodeBody(source, end, header) as { code?: unknown; message?: unknown } | undefined;
      const code = typeof body?.code === 'string' ? body.code : 'HW_ERR_REMOTE';
      const message = typeof body?.message === 'string' ? body.message : 'the peer reported an error';
      this.requestTable?.reject(header.requestId, new RemoteError(code, message));
      return;
    }
    const alias = header.alias;
    const type = alias === INLINE_TYPE ? header.inlineName! : this.inAliases?.[alias];
    if (type === undefined) throw new HybridwireError('HW_ERR_UNKNOWN_ALIAS', `message uses alias ${alias}, which was never defined`);
    const requestId = kind === MessageKind.REQUEST ? header.requestId : undefined;
    let value: Payload;
    try {
      value = decodeBody(source, end, header);
    } catch (error) {
      // The request is bad, not the stream: its sender gets an error reply, the session stays.
      if (requestId === undefined || !(error instanceof HybridwireError)) throw error;
      this.replyError(requestId, error, via);
      return;
    }
    const entry = alias === INLINE_TYPE ? undefined : this.handlerForAlias(alias, type);
    const handler = alias === INLINE_TYPE ? this.router.handlerFor(type) : entry?.handler;
    if (handler === undefined) {
      if (requestId !== undefined) {
        this.replyError(requestId, new HybridwireError('HW_ERR_NO_HANDLER', `no handler for message type '${type}'`), via);
      } else {
        this.host.unhandledMessage(type, value, { type, transport, requestId });
      }
      return;
    }
    const calls = entry !== undefined ? entry.calls : this.router.callsFor(type);
    let result: unknown;
    try {
      // A function's length is a slow property read: use the cached answer when there is one.
      const wantsInfo = entry !== undefined ? entry.wantsInfo : handler.length > 2;
      const info = wantsInfo ? { type, transport, requestId } : (undefined as never);
      result = ++calls.calls !== calls.timedAt ? handler(value, this.context, info) : timedCall(calls, handler, value, this.context, info);
    } catch (error) {
      this.handlerFailed(requestId, type, error, via);
      return;
    }
    if (isPending(result)) {
      this.awaitHandler(result, requestId, type, via);
    } else if (requestId !== undefined) {
      this.reply(requestId, result as Payload, via);
    }
  }

  /** Handlers cached per incoming alias, dropped whenever the router's handlers change. */
  private handlerForAlias(alias: number, type: string): AliasHandler | undefined {
    let handlers = this.aliasHandlers as Array<AliasHandler | null | undefined>;
    if (this.handlersVersion !== this.router.version || handlers === NO_HANDLERS) {
      this.handlersVersion = this.router.version;
      this.aliasHandlers = handlers = [];
    }
    let entry = handlers[alias];
    if (entry === undefined) {
      const handler = this.router.handlerFor(type);
      entry = handler === undefined ? null : { handler, type, wantsInfo: handler.length > 2, calls: this.router.callsFor(type) };
      handlers[alias] = entry;
    }
    return entry ?? undefined;
  }

  private awaitHandler(result: Promise<unknown>, requestId: number | undefined, type: string, via?: SendOptions): void {
    this.pendingHandlers++;
    if (this.pendingHandlers >= this.limits.maxPendingHandlers && !this.pausedForHandlers) {
      this.pausedForHandlers = true;
      this.host.pauseForHandlers(true);
    }
    result.then(
      (value) => {
        if (requestId !== undefined) this.reply(requestId, value as Payload, via);
      },
      (error: unknown) => this.handlerFailed(requestId, type, error, via),
    ).finally(() => {
      this.pendingHandlers--;
      if (this.pausedForHandlers && this.pendingHandlers <= this.limits.maxPendingHandlers / 2) {
        this.pausedForHandlers = false;
        this.host.pauseForHandlers(false);
      }
      this.host.handlerSettled();
    });
  }

  /** A handler threw or rejected: a request gets an error reply, a one-way message is reported. */
  private handlerFailed(requestId: number | undefined, type: string, error: unknown, via?: SendOptions): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (requestId !== undefined) {
      this.replyError(requestId, failure, via);
      return;
    }
    this.host.reportError(new HybridwireError('HW_ERR_HANDLER_FAILED', `handler for '${type}' failed: ${failure.message}`, { cause: failure }));
  }

  private reply(requestId: number, value: Payload, via: SendOptions | undefined): void {
    const state = this.host.state;
    if (state !== 'open' && state !== 'closing') return;
    try {
      this.outbound.sendReply(MessageKind.RESPONSE, requestId, value, via);
    } catch (error) {
      // What the handler returned cannot be sent (a value JSON cannot encode, or a failure of
      // ours): the requester gets an error reply rather than waiting for its timeout, the session
      // stays, and the application sees why.
      const failure = error instanceof Error ? error : new Error(String(error));
      this.replyError(requestId, new HybridwireError('HW_ERR_HANDLER_FAILED', `the reply could not be sent: ${failure.message}`), via);
      this.host.reportError(failure);
    }
  }

  private replyError(requestId: number, error: Error, via: SendOptions | undefined): void {
    const state = this.host.state;
    if (state !== 'open' && state !== 'closing') return;
    const code = (error as { code?: unknown }).code;
    const wireCode = typeof code === 'string' ? code : 'HW_ERR_HANDLER_FAILED';
    this.outbound.sendReply(MessageKind.ERROR, requestId, { code: wireCode, message: error.message }, via);
  }
}
