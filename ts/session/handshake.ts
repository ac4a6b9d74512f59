/**
 * The three-way handshake on the TCP connection (docs/PROTOCOL.md, "Handshake"):
 * the client's HELLO offers, the server's HELLO_ACK accepts (or refuses with a reason) and
 * returns the session, the client's HELLO_DONE completes it. Payloads are UTF-8 JSON objects,
 * small and bounded; unknown fields and unknown features are ignored.
 */
import { HybridwireError, RemoteError } from '../errors.js';
import { isSpan } from '../reliable/reliable-endpoint.js';

/** The protocol version this implementation speaks; peers must share the major number. */
export const PROTOCOL_SEMVER = '1.0.0';
/** Largest handshake payload accepted, so a hostile HELLO cannot make us parse megabytes. */
export const MAX_HANDSHAKE_BYTES = 8192;

/** Features this implementation offers; the session uses the intersection of both offers. */
export const SUPPORTED_FEATURES = ['json', 'binary', 'type-alias', 'request', 'heartbeat', 'udp', 'reliable-udp', 'lz4', 'pubsub'] as const;

export type DeliveryMode = 'step' | 'burst';

/** UDP settings both ends of a session must share (the reliable-UDP credit assumes equal budgets). */
export interface UdpParameters {
  mtu: number;
  window: number;
  reassemblyBytes: number;
  /** Longest an acknowledgement is held back; both ends use the larger offer. Absent means 10. */
  ackDelayMs?: number;
  /**
   * Sequences in flight per reliable space (a power of two, 1024..65536); both ends use the
   * smaller offer. Absent means 1024.
   */
  span?: number;
  /**
   * The largest datagram path MTU discovery may try (mtu..65507); both ends use the smaller
   * offer. Absent means `mtu`: no discovery.
   */
  maxMtu?: number;
}

/** The span a peer that names none is taken to use. */
export const DEFAULT_PEER_SPAN = 1024;

/** The acknowledgement delay a peer that names none is taken to use. */
export const DEFAULT_ACK_DELAY_MS = 10;

export interface Hello {
  version: string;
  features: string[];
  mode: DeliveryMode;
  maxPacketSize: number;
  windowSize: number;
  clientId?: string;
  /** The client's UDP settings; the server answers with the smaller of each. */
  udp?: UdpParameters;
  /**
   * Credentials for the server's `authenticate` (a token, a user name...): any JSON value, bounded
   * only by the HELLO's size. Absent when the client gives none.
   */
  auth?: unknown;
  /** Reserved for a key exchange (a later protocol minor version); ignored today. */
  keyExchange?: unknown;
}

export interface HelloAccepted {
  accepted: true;
  version: string;
  sessionId: string;
  /** 16 hex digits: the 8-byte token that prefixes the client's UDP datagrams. */
  token: string;
  features: string[];
  mode: DeliveryMode;
  maxPacketSize: number;
  windowSize: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  udpPort: number;
  udp?: UdpParameters;
  keyExchange?: unknown;
}

export interface HelloRefused {
  accepted: false;
  version: string;
  code: string;
  reason: string;
}

export type HelloAck = HelloAccepted | HelloRefused;

export interface HelloDone {
  sessionId: string;
}

/** What a server is willing to accept, used to answer a HELLO. */
export interface ServerLimits {
  maxPacketSize: number;
  windowSize: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  udpPort: number;
  udp: UdpParameters;
}

export function encodeJson(value: object): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** The error an ERROR frame's JSON payload (`{ code, message }`) reports; unreadable, a generic one. */
export function remoteErrorOf(payload: Uint8Array): RemoteError {
  let code = 'HW_ERR_REMOTE';
  let message = 'the peer closed the connection with an error';
  try {
    const body = JSON.parse(Buffer.from(payload).toString('utf8')) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') code = body.code;
    if (typeof body.message === 'string') message = `peer reported: ${body.message}`;
  } catch {
    // An unreadable ERROR payload still ends the connection; the generic message stands.
  }
  return new RemoteError(code, message);
}

/**
 * The negotiated features as a set, one for all sessions that negotiated the same list (sets are
 * never changed once made): a set per session cost each about 230 bytes.
 */
const featureSets = new Map<string, ReadonlySet<string>>();
const MAX_FEATURE_SETS = 64;
export function negotiatedFeatures(features: Iterable<string>): ReadonlySet<string> {
  const list = [...features];
  const key = list.join(',');
  let set = featureSets.get(key);
  if (set === undefined) {
    set = new Set(list);
    // Lists come from handshakes: bounded by what a peer may offer, but not trusted to repeat.
    if (featureSets.size < MAX_FEATURE_SETS) featureSets.set(key, set);
  }
  return set;
}

function parseObject(payload: Uint8Array, what: string): Record<string, unknown> {
  if (payload.length > MAX_HANDSHAKE_BYTES) {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what} is ${payload.length} bytes; at most ${MAX_HANDSHAKE_BYTES} are accepted`);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
  } catch {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function field<T>(object: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T {
  const value = object[name];
  if (!check(value)) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.${name} is missing or has the wrong type`);
  return value;
}

/** UTF-8 bytes a clientId may have. */
export const CLIENT_ID_BYTES = { min: 1, max: 256 } as const;

/** Whether `value` is a clientId: a string of 1..256 UTF-8 bytes. */
export function isClientId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > CLIENT_ID_BYTES.max) return false;
  const bytes = Buffer.byteLength(value);
  return bytes >= CLIENT_ID_BYTES.min && bytes <= CLIENT_ID_BYTES.max;
}

const isString = (v: unknown): v is string => typeof v === 'string' && v.length <= 256;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 0xffffffff;
const isDelay = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1000;
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.length <= 64 && v.every(isString);
const isMode = (v: unknown): v is DeliveryMode => v === 'step' || v === 'burst';

export function majorOf(version: string): number | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(version);
  return match ? Number(match[1]) : undefined;
}

export function parseHello(payload: Uint8Array): Hello {
  const object = parseObject(payload, 'HELLO');
  const hello: Hello = {
    version: field(object, 'version', isString, 'HELLO'),
    features: field(object, 'features', isStringArray, 'HELLO'),
    mode: field(object, 'mode', isMode, 'HELLO'),
    maxPacketSize: field(object, 'maxPacketSize', isCount, 'HELLO'),
    windowSize: field(object, 'windowSize', isCount, 'HELLO'),
  };
  if (object.clientId !== undefined) {
    if (!isClientId(object.clientId)) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `HELLO.clientId must be a string of ${CLIENT_ID_BYTES.min} to ${CLIENT_ID_BYTES.max} UTF-8 bytes`);
    hello.clientId = object.clientId;
  }
  const udp = parseUdp(object.udp, 'HELLO');
  if (udp) hello.udp = udp;
  if (object.auth !== undefined) hello.auth = object.auth;
  if (object.keyExchange !== undefined) hello.keyExchange = object.keyExchange;
  return hello;
}

/** The refusal of a HELLO whose major version differs from ours, or undefined when it is compatible. */
export function versionRefusal(hello: Hello): HelloRefused | undefined {
  const major = majorOf(hello.version);
  if (major !== undefined && major === majorOf(PROTOCOL_SEMVER)) return undefined;
  return refuse('HW_ERR_VERSION_MISMATCH', `client speaks protocol ${hello.version}; this server speaks ${PROTOCOL_SEMVER} (major versions must match)`);
}

/** The server's answer to a HELLO: refuse an incompatible major version, else negotiate each value down. */
export function answerHello(hello: Hello, limits: ServerLimits, sessionId: string, token: string): HelloAck {
  const refusal = versionRefusal(hello);
  if (refusal) return refusal;
  const offered = new Set(hello.features);
  return {
    accepted: true,
    version: PROTOCOL_SEMVER,
    sessionId,
    token,
    features: SUPPORTED_FEATURES.filter((feature) => offered.has(feature)),
    mode: hello.mode,
    maxPacketSize: Math.min(hello.maxPacketSize, limits.maxPacketSize),
    windowSize: hello.mode === 'step' ? 1 : Math.min(hello.windowSize, limits.windowSize),
    heartbeatIntervalMs: limits.heartbeatIntervalMs,
    heartbeatTimeoutMs: limits.heartbeatTimeoutMs,
    udpPort: limits.udpPort,
    udp: hello.udp
      ? {
          mtu: Math.min(hello.udp.mtu, limits.udp.mtu),
          window: Math.min(hello.udp.window, limits.udp.window),
          reassemblyBytes: Math.min(hello.udp.reassemblyBytes, limits.udp.reassemblyBytes),
          // Each end's timers allow for the other's delay, so both take the longer one.
          ackDelayMs: Math.max(hello.udp.ackDelayMs ?? DEFAULT_ACK_DELAY_MS, limits.udp.ackDelayMs ?? DEFAULT_ACK_DELAY_MS),
          // Both ends track what the other may send, so both take the shorter span.
          span: Math.min(hello.udp.span ?? DEFAULT_PEER_SPAN, limits.udp.span ?? DEFAULT_PEER_SPAN),
          // Neither end sends datagrams larger than the other allows; never below the mtu.
          maxMtu: Math.max(
            Math.min(hello.udp.mtu, limits.udp.mtu),
            Math.min(hello.udp.maxMtu ?? hello.udp.mtu, limits.udp.maxMtu ?? limits.udp.mtu),
          ),
        }
      : // A client that offers nothing is held to what a peer that names no span or maxMtu gets.
        { ...limits.udp, span: DEFAULT_PEER_SPAN, maxMtu: limits.udp.mtu },
  };
}

function parseUdp(value: unknown, what: string): UdpParameters | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp must be an object`);
  const object = value as Record<string, unknown>;
  const udp = {
    mtu: field(object, 'mtu', isCount, `${what}.udp`),
    window: field(object, 'window', isCount, `${what}.udp`),
    reassemblyBytes: field(object, 'reassemblyBytes', isCount, `${what}.udp`),
    ...(object.ackDelayMs === undefined ? {} : { ackDelayMs: field(object, 'ackDelayMs', isDelay, `${what}.udp`) }),
    ...(object.span === undefined ? {} : { span: field(object, 'span', isCount, `${what}.udp`) }),
    ...(object.maxMtu === undefined ? {} : { maxMtu: field(object, 'maxMtu', isCount, `${what}.udp`) }),
  };
  if (udp.maxMtu !== undefined && (udp.maxMtu < udp.mtu || udp.maxMtu > 65507)) {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp.maxMtu must be from mtu to 65507`);
  }
  if (udp.span !== undefined && !isSpan(udp.span)) {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp.span must be a power of two from 1024 to 65536`);
  }
  if (udp.mtu < 128 || udp.mtu > 65507) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp.mtu must be from 128 to 65507`);
  if (udp.window > 65536) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp.window must be at most 65536`);
  if (udp.reassemblyBytes < 1024) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', `${what}.udp.reassemblyBytes must be at least 1024`);
  return udp;
}

export function refuse(code: string, reason: string): HelloRefused {
  return { accepted: false, version: PROTOCOL_SEMVER, code, reason };
}

export function parseHelloAck(payload: Uint8Array): HelloAck {
  const object = parseObject(payload, 'HELLO_ACK');
  if (object.accepted !== true) {
    return {
      accepted: false,
      version: isString(object.version) ? object.version : '?',
      code: isString(object.code) ? object.code : 'HW_ERR_HANDSHAKE_REFUSED',
      reason: isString(object.reason) ? object.reason : 'refused without a reason',
    };
  }
  const token = field(object, 'token', isString, 'HELLO_ACK');
  if (!/^[0-9a-f]{16}$/.test(token)) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', 'HELLO_ACK.token must be 16 hex digits');
  const udpPort = object.udpPort;
  if (typeof udpPort !== 'number' || !Number.isInteger(udpPort) || udpPort < 0 || udpPort > 65535) {
    throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', 'HELLO_ACK.udpPort must be a port number');
  }
  return {
    accepted: true,
    version: field(object, 'version', isString, 'HELLO_ACK'),
    sessionId: field(object, 'sessionId', isString, 'HELLO_ACK'),
    token,
    features: field(object, 'features', isStringArray, 'HELLO_ACK'),
    mode: field(object, 'mode', isMode, 'HELLO_ACK'),
    maxPacketSize: field(object, 'maxPacketSize', isCount, 'HELLO_ACK'),
    windowSize: field(object, 'windowSize', isCount, 'HELLO_ACK'),
    heartbeatIntervalMs: field(object, 'heartbeatIntervalMs', isCount, 'HELLO_ACK'),
    heartbeatTimeoutMs: field(object, 'heartbeatTimeoutMs', isCount, 'HELLO_ACK'),
    udpPort,
    ...(object.udp === undefined ? {} : { udp: parseUdp(object.udp, 'HELLO_ACK')! }),
  };
}

export function parseHelloDone(payload: Uint8Array): HelloDone {
  const object = parseObject(payload, 'HELLO_DONE');
  return { sessionId: field(object, 'sessionId', isString, 'HELLO_DONE') };
}
