/**
 * Sealed datagrams for one session's UDP side (docs/PROTOCOL.md 4.4): a typed wrapper over the
 * native sealer and opener (native/core/crypto/datagram-seal.h), which do the AEAD through
 * OpenSSL. Every datagram after the token is sealed: the token, a 64-bit record number, the
 * frames encrypted, a 16-byte tag. Record r of a direction uses the keys of epoch r / 2^22, which
 * this wrapper asks of {@link UdpSealing.keys} as each epoch comes near (the TLS exporter, see
 * ts/session/udp-keys.ts): a key never seals more than 2^22 datagrams.
 *
 * One native call per batch: {@link DatagramSeal.sealBatch} seals what a flush of the reliable
 * endpoint produced, {@link DatagramSeal.openRows} opens a run of a socket batch in place.
 */
import { HybridwireError } from '../errors.js';
import { native, type NativeDatagramOpener, type NativeDatagramSealer } from '../native/addon.js';

export type SealAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

/** Bytes sealing adds to a datagram: the record number (8) and the tag (16). */
export const SEAL_OVERHEAD = 24;
/** Records per key epoch: 2^22, half the AES-GCM confidentiality limit of RFC 9001 section 6.6. */
export const EPOCH_RECORDS = 2 ** 22;

/** One end's keys and IVs of a key epoch: those it seals with, and those it opens with. */
export interface EpochKeys {
  sendKey: Uint8Array;
  sendIv: Uint8Array;
  receiveKey: Uint8Array;
  receiveIv: Uint8Array;
}

/** How a session's datagrams are sealed: the AEAD and the keys of each epoch (32-byte keys, 12-byte IVs). */
export interface UdpSealing {
  algorithm: SealAlgorithm;
  /** The keys of `epoch`; they are zeroed once installed. Throwing closes the session's UDP side. */
  keys(epoch: number): EpochKeys;
}

export interface SealingStats {
  algorithm: SealAlgorithm;
  /** Datagrams sealed and sent. */
  sealed: number;
  /** Datagrams that opened (authenticated), whether or not then delivered. */
  opened: number;
  /** Dropped: too short, of an epoch without keys, or failing authentication (forged or corrupted). */
  unopened: number;
  /** Dropped: a record number accepted before, or too old to tell (a replay). */
  replayed: number;
  /** The key epochs in use for sending and receiving. */
  sendEpoch: number;
  receiveEpoch: number;
}

/** What {@link DatagramSeal.open} found. */
export const OpenResult = { OPENED: 0, UNOPENED: 1, REPLAYED: 2, LIMIT_REACHED: 3 } as const;
export type OpenResultValue = (typeof OpenResult)[keyof typeof OpenResult];

const ALGORITHMS: Record<SealAlgorithm, number> = { 'aes-256-gcm': 0, 'chacha20-poly1305': 1 };
const KEY_SIZE = 32;
const IV_SIZE = 12;

// The state the native objects write after every call (native/binding/seal-binding.cc).
const SEALER_WANTED_EPOCH = 0;
const SEALER_NEXT_RECORD = 1;
const SEALER_SEALED = 2;
const SEALER_STATE_SIZE = 3;
const OPENER_KEPT = 0;
const OPENER_FRAMES_LENGTH = 1;
const OPENER_WANTED_EPOCH = 2;
const OPENER_OPENED = 3;
const OPENER_UNOPENED = 4;
const OPENER_REPLAYED = 5;
const OPENER_LIMIT_REACHED = 7;
const OPENER_EPOCH = 8;
const OPENER_STATE_SIZE = 9;

/**
 * Where sealed batches are written, shared by every session of the process: a batch is sent
 * (the socket copies what it must keep) before the next is sealed.
 */
let sealedSlab = Buffer.allocUnsafeSlow(0);

export interface DatagramSealOptions {
  /** The first record number this end sends; 0 but in tests and test vectors. */
  firstRecord?: number;
  /** Below RFC 9001's integrity limit, for tests only: the authentication failures after which nothing opens. */
  integrityLimit?: number;
}

export class DatagramSeal {
  readonly algorithm: SealAlgorithm;
  /** The sealed lengths of the last {@link sealBatch}. */
  lengths = new Uint32Array(64);
  private readonly sealer: NativeDatagramSealer;
  private readonly opener: NativeDatagramOpener;
  private readonly sealerState = new Float64Array(SEALER_STATE_SIZE);
  private readonly openerState = new Float64Array(OPENER_STATE_SIZE);
  /** The epoch being installed, kept while the other direction may want it too. */
  private derived: { epoch: number; keys: EpochKeys } | undefined;
  /** Why keys could not be had, once that happened: nothing is sealed from then on. */
  private keyFailure: HybridwireError | undefined;

  constructor(token: Uint8Array, private readonly sealing: UdpSealing, options: DatagramSealOptions = {}) {
    const algorithm = ALGORITHMS[sealing.algorithm];
    if (algorithm === undefined) {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `sealing.algorithm must be one of ${Object.keys(ALGORITHMS).join(', ')}, got ${String(sealing.algorithm)}`);
    }
    this.algorithm = sealing.algorithm;
    this.sealer = new native.DatagramSealer(algorithm, token, this.sealerState, options.firstRecord ?? 0);
    this.opener = new native.DatagramOpener(algorithm, token, this.openerState, options.integrityLimit);
    this.installWanted();
  }

  /**
   * Seals `count` datagrams laid back to back in `slab` from `offset` (token first, as the
   * reliable endpoint writes them; lengths may carry DONT_FRAGMENT, which is kept). Returns the
   * buffer holding the sealed datagrams back to back from 0, their lengths in {@link lengths},
   * valid until the next call; undefined when they cannot be sealed (see {@link failure}).
   */
  sealBatch(slab: Uint8Array, offset: number, lengths: Uint32Array, count: number): Buffer | undefined {
    if (this.keyFailure !== undefined) return undefined;
    let room = count * SEAL_OVERHEAD;
    for (let i = 0; i < count; i++) room += lengths[i]! & 0x7fffffff;
    if (sealedSlab.length < room) sealedSlab = Buffer.allocUnsafeSlow(Math.max(room, sealedSlab.length * 2));
    if (this.lengths.length < count) this.lengths = new Uint32Array(count);
    const written = this.sealer.sealBatch(slab, offset, lengths, count, sealedSlab, this.lengths);
    this.installWanted();
    return written < 0 ? undefined : sealedSlab;
  }

  /** The sealed form of one datagram (token first), in a Buffer of its own; undefined when it cannot be sealed. */
  seal(datagram: Uint8Array): Buffer | undefined {
    if (this.keyFailure !== undefined) return undefined;
    const out = Buffer.allocUnsafe(datagram.length + SEAL_OVERHEAD);
    const written = this.sealer.seal(datagram, out);
    this.installWanted();
    return written < 0 ? undefined : out;
  }

  /**
   * Opens, in place, the datagrams of a socket batch from index `from` (rows as UdpSocket lays
   * them out) for as long as they carry this session's token and come from the first one's
   * sender. Those that open and are not replays have their rows rewritten from `from` on, as
   * unsealed datagrams (token, then frames): {@link kept} of them. Returns the index of the first
   * datagram not taken.
   */
  openRows(bytes: Uint8Array, rows: Uint32Array, from: number, to: number): number {
    const next = this.opener.openRows(bytes, rows, from, to);
    this.installWanted();
    return next;
  }

  /** How many datagrams the last {@link openRows} kept. */
  get kept(): number {
    return this.openerState[OPENER_KEPT]!;
  }

  /**
   * Opens `sealed` (a datagram past its token) in place: when it returns OPENED the frames are
   * `sealed[8, 8 + framesLength)`. With `accept` its record number counts as seen (it is to be
   * delivered); without, the datagram is only judged (one from an address not validated).
   */
  open(sealed: Uint8Array, accept: boolean): OpenResultValue {
    const result = this.opener.open(sealed, accept) as OpenResultValue;
    this.installWanted();
    return result;
  }

  /** The frames' length after an {@link open} that returned OPENED. */
  get framesLength(): number {
    return this.openerState[OPENER_FRAMES_LENGTH]!;
  }

  /** {@link open}, giving the frames (a view of `sealed`) when it opens, else what it found. */
  openFrames(sealed: Uint8Array, accept: boolean): Uint8Array | OpenResultValue {
    const result = this.open(sealed, accept);
    return result === OpenResult.OPENED ? sealed.subarray(8, 8 + this.framesLength) : result;
  }

  /** The datagrams that failed authentication reached the integrity limit: the session must close. */
  get limitReached(): boolean {
    return this.openerState[OPENER_LIMIT_REACHED] === 1;
  }

  /**
   * Why the session must close, once it must: the integrity limit reached, or keys that could
   * not be had (after which nothing is sealed).
   */
  get failure(): HybridwireError | undefined {
    if (this.keyFailure !== undefined) return this.keyFailure;
    if (!this.limitReached) return undefined;
    return new HybridwireError('HW_ERR_AEAD_LIMIT_REACHED', 'the UDP datagrams that failed authentication reached the integrity limit of the AEAD');
  }

  stats(): SealingStats {
    const opener = this.openerState;
    return {
      algorithm: this.algorithm,
      sealed: this.sealerState[SEALER_SEALED]!,
      opened: opener[OPENER_OPENED]!,
      unopened: opener[OPENER_UNOPENED]!,
      replayed: opener[OPENER_REPLAYED]!,
      sendEpoch: Math.floor(this.sealerState[SEALER_NEXT_RECORD]! / EPOCH_RECORDS),
      receiveEpoch: opener[OPENER_EPOCH]!,
    };
  }

  /** Gives both directions the keys of the epochs they want (the current and the next). */
  private installWanted(): void {
    for (;;) {
      const sealerWants = this.sealerState[SEALER_WANTED_EPOCH]!;
      const openerWants = this.openerState[OPENER_WANTED_EPOCH]!;
      if (this.keyFailure !== undefined) return;
      if (sealerWants < 0 && openerWants < 0) {
        // Both have what they need: the derived keys are not kept in memory.
        if (this.derived !== undefined) zero(this.derived.keys);
        this.derived = undefined;
        return;
      }
      if (sealerWants >= 0) {
        const keys = this.keysOf(sealerWants);
        if (keys === undefined || !this.sealer.install(sealerWants, keys.sendKey, keys.sendIv)) return this.fail(sealerWants);
      }
      if (openerWants >= 0) {
        const keys = this.keysOf(openerWants);
        if (keys === undefined || !this.opener.install(openerWants, keys.receiveKey, keys.receiveIv)) return this.fail(openerWants);
      }
    }
  }

  private keysOf(epoch: number): EpochKeys | undefined {
    if (this.derived?.epoch === epoch) return this.derived.keys;
    if (this.derived !== undefined) zero(this.derived.keys);
    let keys: EpochKeys;
    try {
      keys = this.sealing.keys(epoch);
    } catch (cause) {
      this.keyFailure = new HybridwireError('HW_ERR_AEAD_LIMIT_REACHED', `the UDP keys of epoch ${epoch} could not be derived: ${(cause as Error).message}`, { cause });
      return undefined;
    }
    for (const [name, value, size] of [['sendKey', keys.sendKey, KEY_SIZE], ['sendIv', keys.sendIv, IV_SIZE], ['receiveKey', keys.receiveKey, KEY_SIZE], ['receiveIv', keys.receiveIv, IV_SIZE]] as const) {
      if (!(value instanceof Uint8Array) || value.length !== size) {
        this.keyFailure = new HybridwireError('HW_ERR_INVALID_ARGUMENT', `the keys of epoch ${epoch}: ${name} must be ${size} bytes`);
        return undefined;
      }
    }
    this.derived = { epoch, keys };
    return keys;
  }

  private fail(epoch: number): void {
    this.keyFailure ??= new HybridwireError('HW_ERR_AEAD_LIMIT_REACHED', `the UDP keys of epoch ${epoch} could not be installed`);
  }
}

function zero(keys: EpochKeys): void {
  keys.sendKey.fill(0);
  keys.sendIv.fill(0);
  keys.receiveKey.fill(0);
  keys.receiveIv.fill(0);
}
