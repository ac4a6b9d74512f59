import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ACK_DELAY_MS,
  DEFAULT_PEER_SPAN,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_SEMVER,
  SUPPORTED_FEATURES,
  answerHello,
  checkAccepted,
  clientOffer,
  encodeJson,
  majorOf,
  negotiatedFeatures,
  parseHello,
  parseHelloAck,
  parseHelloDone,
  refuse,
  remoteErrorOf,
  type Hello,
  type ServerLimits,
} from '../../ts/session/handshake.js';
import { resolveCompression } from '../../ts/compression/settings.js';

const HELLO: Hello = { version: PROTOCOL_SEMVER, features: ['json', 'lz4', 'unknown-feature'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 4096 };
const LIMITS: ServerLimits = {
  maxPacketSize: 1 << 16,
  windowSize: 8192,
  heartbeatIntervalMs: 5000,
  heartbeatTimeoutMs: 15000,
  udpPort: 4000,
  udp: { mtu: 1200, window: 1024, reassemblyBytes: 1 << 22, ackDelayMs: 10, span: 16384, maxMtu: 9000 },
};
const TOKEN = '0123456789abcdef';

describe('HELLO', () => {
  it('parses the fields it needs, keeps clientId and udp, and ignores fields it does not know', () => {
    const hello = parseHello(encodeJson({ ...HELLO, clientId: 'c1', udp: { mtu: 1300, window: 64, reassemblyBytes: 4096 }, extra: true }));
    expect(hello).toEqual({ ...HELLO, clientId: 'c1', udp: { mtu: 1300, window: 64, reassemblyBytes: 4096 } });
  });

  it.each([
    ['not JSON', Buffer.from('{')],
    ['an array', encodeJson([1])],
    ['without a version', encodeJson({ ...HELLO, version: undefined })],
    ['with an unknown mode', encodeJson({ ...HELLO, mode: 'fast' })],
    ['with a window of 0', encodeJson({ ...HELLO, windowSize: 0 })],
    ['with a UDP mtu of 100', encodeJson({ ...HELLO, udp: { mtu: 100, window: 1, reassemblyBytes: 4096 } })],
    ['with a span that is not a power of two', encodeJson({ ...HELLO, udp: { mtu: 1200, window: 1, reassemblyBytes: 4096, span: 3000 } })],
    ['with a maxMtu below its mtu', encodeJson({ ...HELLO, udp: { mtu: 1200, window: 1, reassemblyBytes: 4096, maxMtu: 1000 } })],
    ['larger than MAX_HANDSHAKE_BYTES', encodeJson({ ...HELLO, padding: 'x'.repeat(MAX_HANDSHAKE_BYTES) })],
  ])('refuses a HELLO that is %s (HW_ERR_BAD_HANDSHAKE)', (_what, payload) => {
    expect(() => parseHello(payload)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
  });
});

describe('answerHello', () => {
  it('negotiates each value down, keeps the features both offer, and names the session', () => {
    const answer = answerHello({ ...HELLO, udp: { mtu: 1400, window: 4096, reassemblyBytes: 1 << 20, ackDelayMs: 25, span: 1024, maxMtu: 65507 } }, LIMITS, 'session-1', TOKEN);
    expect(answer).toEqual({
      accepted: true,
      version: PROTOCOL_SEMVER,
      sessionId: 'session-1',
      token: TOKEN,
      features: SUPPORTED_FEATURES.filter((feature) => feature === 'json' || feature === 'lz4'),
      mode: 'burst',
      maxPacketSize: 1 << 16,
      windowSize: 4096,
      heartbeatIntervalMs: 5000,
      heartbeatTimeoutMs: 15000,
      udpPort: 4000,
      udp: { mtu: 1200, window: 1024, reassemblyBytes: 1 << 20, ackDelayMs: 25, span: 1024, maxMtu: 9000 },
    });
  });

  it('gives step mode a window of one, and a client that offers no UDP settings the defaults of a peer that names none', () => {
    const answer = answerHello({ ...HELLO, mode: 'step' }, LIMITS, 's', TOKEN);
    expect(answer.accepted && answer.windowSize).toBe(1);
    expect(answer.accepted && answer.udp).toEqual({ ...LIMITS.udp, span: DEFAULT_PEER_SPAN, maxMtu: LIMITS.udp.mtu });
    const quiet = answerHello({ ...HELLO, udp: { mtu: 1200, window: 8, reassemblyBytes: 4096 } }, { ...LIMITS, udp: { ...LIMITS.udp, ackDelayMs: undefined } }, 's', TOKEN);
    expect(quiet.accepted && quiet.udp?.ackDelayMs).toBe(DEFAULT_ACK_DELAY_MS);
  });

  it('refuses another major version with HW_ERR_VERSION_MISMATCH', () => {
    for (const version of ['2.0.0', 'not-a-version']) {
      expect(answerHello({ ...HELLO, version }, LIMITS, 's', TOKEN)).toMatchObject({ accepted: false, code: 'HW_ERR_VERSION_MISMATCH' });
    }
    expect(answerHello({ ...HELLO, version: '1.9.3-beta' }, LIMITS, 's', TOKEN).accepted).toBe(true);
    expect([majorOf('12.3.4'), majorOf('1.2'), majorOf('x')]).toEqual([12, undefined, undefined]);
  });
});

describe('compression and required features', () => {
  const accepted = (hello: Partial<Hello>, limits: Partial<ServerLimits> = {}) => {
    const answer = answerHello({ ...HELLO, ...hello }, { ...LIMITS, ...limits }, 'session-1', TOKEN);
    if (!answer.accepted) throw new Error(`refused: ${answer.code}`);
    return answer;
  };

  it("chooses from the client's compression list, and keeps lz4 in features only where the session uses LZ4", () => {
    expect(accepted({ compression: ['zstd', 'lz4'] })).toMatchObject({ compression: 'zstd', features: ['json'] });
    expect(accepted({ compression: ['lz4', 'zstd'] })).toMatchObject({ compression: 'lz4', features: ['json', 'lz4'] });
    expect(accepted({ compression: ['zstd', 'gzip'] }, { compression: resolveCompression({ algorithm: ['gzip', 'zstd'] }, undefined) })).toMatchObject({ compression: 'gzip' });
    const none = accepted({ compression: ['lzma'] });
    expect(none.compression).toBeUndefined();
    expect(none.features).toEqual(['json']);
  });

  it('answers a 1.0 HELLO (the lz4 feature, no list) as 1.0 did, unless the server turned compression off', () => {
    const answer = accepted({});
    expect(answer.features).toEqual(['json', 'lz4']);
    expect('compression' in answer).toBe(false);
    expect(accepted({}, { compression: resolveCompression(false, undefined) }).features).toEqual(['json']);
  });

  it('refuses a HELLO requiring a feature the server does not have, or does not agree to, with HW_ERR_UNSUPPORTED_FEATURE', () => {
    expect(answerHello({ ...HELLO, required: ['json', 'quantum-tunnels'] }, LIMITS, 's', TOKEN)).toMatchObject({ accepted: false, code: 'HW_ERR_UNSUPPORTED_FEATURE', reason: expect.stringContaining("'quantum-tunnels'") });
    expect(answerHello({ ...HELLO, required: ['lz4'] }, { ...LIMITS, compression: resolveCompression(false, undefined) }, 's', TOKEN)).toMatchObject({ accepted: false, code: 'HW_ERR_UNSUPPORTED_FEATURE' });
    expect(accepted({ required: ['json', 'lz4'] }).features).toEqual(['json', 'lz4']);
  });

  it('parses compression and required in HELLO and HELLO_ACK, and refuses them malformed', () => {
    expect(parseHello(encodeJson({ ...HELLO, compression: ['zstd'], required: ['json'] }))).toMatchObject({ compression: ['zstd'], required: ['json'] });
    expect(() => parseHello(encodeJson({ ...HELLO, compression: 'zstd' }))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
    expect(() => parseHello(encodeJson({ ...HELLO, required: [1] }))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
    const ack = accepted({ compression: ['gzip'] });
    expect(parseHelloAck(encodeJson({ ...ack, required: ['json'] }))).toMatchObject({ compression: 'gzip', required: ['json'] });
    expect(() => parseHelloAck(encodeJson({ ...ack, compression: ['gzip'] }))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
  });

  it("offers a client's algorithms and lz4 only if it accepts LZ4; checks the answer against the offer", () => {
    expect(clientOffer(resolveCompression({ algorithm: ['zstd', 'gzip'] }, undefined))).toEqual({ features: SUPPORTED_FEATURES.filter((f) => f !== 'lz4'), compression: ['zstd', 'gzip'] });
    expect(clientOffer(resolveCompression(false, undefined))).toEqual({ features: SUPPORTED_FEATURES.filter((f) => f !== 'lz4') });
    const ack = accepted({ compression: ['gzip'] });
    expect(() => checkAccepted(ack, { compression: ['gzip'] })).not.toThrow();
    expect(() => checkAccepted(ack, { compression: ['zstd'] })).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
    expect(() => checkAccepted({ ...ack, required: ['json', 'teleport'] }, { compression: ['gzip'] })).toThrow(expect.objectContaining({ code: 'HW_ERR_UNSUPPORTED_FEATURE' }));
    expect(() => checkAccepted({ ...ack, version: '1.4.2' }, { compression: ['gzip'] })).not.toThrow();
    expect(() => checkAccepted({ ...ack, version: '2.0.0' }, { compression: ['gzip'] })).toThrow(expect.objectContaining({ code: 'HW_ERR_VERSION_MISMATCH' }));
  });
});

describe('HELLO_ACK and HELLO_DONE', () => {
  it('parses an accepted HELLO_ACK as answerHello wrote it', () => {
    const answer = answerHello(HELLO, LIMITS, 'session-1', TOKEN);
    expect(parseHelloAck(encodeJson(answer))).toEqual(answer);
  });

  it('parses a refusal, with defaults for what it leaves out', () => {
    expect(parseHelloAck(encodeJson(refuse('HW_ERR_SERVER_FULL', 'full')))).toEqual({ accepted: false, version: PROTOCOL_SEMVER, code: 'HW_ERR_SERVER_FULL', reason: 'full' });
    expect(parseHelloAck(encodeJson({ accepted: false }))).toEqual({ accepted: false, version: '?', code: 'HW_ERR_HANDSHAKE_REFUSED', reason: 'refused without a reason' });
  });

  it('refuses an accepted HELLO_ACK with a bad token or UDP port', () => {
    const answer = answerHello(HELLO, LIMITS, 'session-1', TOKEN);
    for (const bad of [{ token: 'xyz' }, { token: 'ABCDEF0123456789' }, { udpPort: 70000 }, { udpPort: -1 }]) {
      expect(() => parseHelloAck(encodeJson({ ...answer, ...bad }))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
    }
  });

  it('reads the session id of HELLO_DONE', () => {
    expect(parseHelloDone(encodeJson({ sessionId: 'abc' }))).toEqual({ sessionId: 'abc' });
    expect(() => parseHelloDone(encodeJson({ sessionId: 5 }))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_HANDSHAKE' }));
  });
});

describe('negotiatedFeatures', () => {
  it('gives sessions that negotiated the same list one set between them, and another list its own', () => {
    const first = negotiatedFeatures(['json', 'lz4']);
    expect([...first]).toEqual(['json', 'lz4']);
    expect(negotiatedFeatures(new Set(['json', 'lz4']))).toBe(first);
    const other = negotiatedFeatures(['json']);
    expect(other).not.toBe(first);
    expect([...other]).toEqual(['json']);
    expect([...negotiatedFeatures([])]).toEqual([]);
  });
});

describe('remoteErrorOf', () => {
  it("reads an ERROR frame's code and message", () => {
    const error = remoteErrorOf(encodeJson({ code: 'HW_ERR_SERVER_FULL', message: 'full' }));
    expect(error).toMatchObject({ name: 'RemoteError', code: 'HW_ERR_SERVER_FULL', message: 'peer reported: full' });
  });

  it('stands for an unreadable or partial payload with a generic error', () => {
    expect(remoteErrorOf(Buffer.from('not json'))).toMatchObject({ code: 'HW_ERR_REMOTE', message: 'the peer closed the connection with an error' });
    expect(remoteErrorOf(encodeJson({ code: 7, message: 'why' }))).toMatchObject({ code: 'HW_ERR_REMOTE', message: 'peer reported: why' });
  });
});
