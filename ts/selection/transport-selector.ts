/**
 * `transport: 'auto'`: which way one message goes, TCP, UDP or reliable UDP, and the counts of
 * what was chosen (`stats.selection`). The rules, first match wins:
 *
 * 1. No UDP path (none negotiated, a local socket) → TCP, `udp-unavailable`.
 * 2. The path is not ready: → TCP, `udp-not-ready` until `autoBlockedAfterMs` after the session's
 *    first 'auto' send, `udp-blocked` after (no datagram answered since the handshake). Measured
 *    from there, not from the handshake, so that idle sessions keep no timestamp. The client's
 *    announcement keeps probing meanwhile; the path is used as soon as it answers.
 * 3. Measured loss of the probes above `autoMaxLossPercent` → TCP, `udp-loss`. Probing goes on
 *    (./udp-probe.ts), and UDP is chosen again once the loss falls back under the bound.
 * 4. The probes' RTT above twice the TCP heartbeat's plus 5 ms → TCP, `udp-slow`.
 * 5. `reliable` (the default for 'auto': nothing is given up unless asked): a message that fits in
 *    one datagram → reliable UDP, `reliable-small` (no head-of-line blocking behind TCP's bulk);
 *    a larger one → TCP, `reliable-large` (bulk moves best with the kernel's flow control).
 * 6. `reliable: false`: fits in one datagram → UDP, `unreliable-small`; larger → reliable UDP,
 *    `unreliable-large` (a fragmented unreliable message is lost if any fragment is, so large
 *    ones would rarely arrive over a lossy path).
 *
 * Choices may differ from one message to the next, so 'auto' orders nothing across messages.
 */
import type { SendOptions, UdpPath } from '../session/send-options.js';
import { UdpProbe } from './udp-probe.js';
import { LIMIT_RANGES } from '../api/option-ranges.js';

export type SelectionReason =
  | 'none'
  | 'udp-unavailable'
  | 'udp-not-ready'
  | 'udp-blocked'
  | 'udp-loss'
  | 'udp-slow'
  | 'reliable-small'
  | 'reliable-large'
  | 'unreliable-small'
  | 'unreliable-large';

export interface SelectionStats {
  /** Messages 'auto' sent over TCP, unreliable UDP and reliable UDP. */
  tcp: number;
  udp: number;
  udpReliable: number;
  /** Why the last choice was made ('none' before the first). */
  reason: SelectionReason;
  /** The probes' loss rate (0..1), once enough were judged. */
  udpLoss: number | undefined;
  /** The probes' smoothed RTT in ms, once one was answered. */
  udpRttMs: number | undefined;
  probesSent: number;
  probesAnswered: number;
}

/** What the selection reads of the session's options (ts/api/limits.ts). */
export interface SelectionSettings {
  autoProbeIntervalMs: number;
  autoBlockedAfterMs: number;
  autoMaxLossPercent: number;
}

/** The settings' defaults, for a UDP session made without them (tests of the transport alone). */
export const DEFAULT_SELECTION: SelectionSettings = Object.freeze({
  autoProbeIntervalMs: LIMIT_RANGES.autoProbeIntervalMs.default,
  autoBlockedAfterMs: LIMIT_RANGES.autoBlockedAfterMs.default,
  autoMaxLossPercent: LIMIT_RANGES.autoMaxLossPercent.default,
});

/** What a UDP path offers the selection (ts/transport/udp-session.ts). */
export interface SelectablePath extends UdpPath {
  readonly ready: boolean;
  /** The largest message (prefix and body) that fits in one datagram. */
  readonly datagramPayload: number;
  readonly selection: SelectionSettings;
  sendProbe(sequence: number): void;
  probeAnswered: ((sequence: number) => void) | undefined;
}

/** The RTT rule (4): UDP is slow when its RTT exceeds the TCP one times this plus SLOW_MARGIN_MS. */
const SLOW_FACTOR = 2;
const SLOW_MARGIN_MS = 5;

const TCP: SendOptions = Object.freeze({ transport: 'tcp' });

export class TransportSelector {
  tcp = 0;
  udp = 0;
  udpReliable = 0;
  reason: SelectionReason = 'none';
  private probe: UdpProbe | undefined;
  private probed: SelectablePath | undefined;
  /** When this session first sent with 'auto' on its path (performance.now()). */
  private since = 0;

  constructor(private readonly alive: () => boolean) {}

  /** The options to send a message of `size` bytes with, for `options` (transport 'auto'). */
  choose(path: SelectablePath | undefined, size: number, options: SendOptions, tcpRttMs: number | undefined): SendOptions {
    if (path === undefined) return this.tcpFor('udp-unavailable');
    const settings = path.selection;
    if (this.probed !== path) {
      this.probe?.stop();
      this.probed = path;
      this.since = performance.now();
      this.probe = new UdpProbe(path, settings.autoProbeIntervalMs, this.alive);
    }
    if (!path.ready) return this.tcpFor(performance.now() - this.since >= settings.autoBlockedAfterMs ? 'udp-blocked' : 'udp-not-ready');
    const probe = this.probe!;
    const loss = probe.loss;
    if (loss !== undefined && loss * 100 > settings.autoMaxLossPercent) return this.tcpFor('udp-loss');
    if (probe.rttMs !== undefined && tcpRttMs !== undefined && probe.rttMs > tcpRttMs * SLOW_FACTOR + SLOW_MARGIN_MS) return this.tcpFor('udp-slow');
    const fits = size <= path.datagramPayload;
    if (options.reliable === false) {
      this.reason = fits ? 'unreliable-small' : 'unreliable-large';
      return { transport: 'udp', reliable: !fits, ordered: options.ordered, channel: options.channel };
    }
    if (!fits) return this.tcpFor('reliable-large');
    this.reason = 'reliable-small';
    return { transport: 'udp', reliable: true, ordered: options.ordered, channel: options.channel };
  }

  /** Counts a message sent the way `chosen` says. */
  count(chosen: SendOptions): void {
    if (chosen.transport !== 'udp') this.tcp++;
    else if (chosen.reliable === true) this.udpReliable++;
    else this.udp++;
  }

  stats(): SelectionStats {
    const probe = this.probe;
    return {
      tcp: this.tcp,
      udp: this.udp,
      udpReliable: this.udpReliable,
      reason: this.reason,
      udpLoss: probe?.loss,
      udpRttMs: probe?.rttMs,
      probesSent: probe?.sent ?? 0,
      probesAnswered: probe?.answered ?? 0,
    };
  }

  private tcpFor(reason: SelectionReason): SendOptions {
    this.reason = reason;
    return TCP;
  }
}
