/**
 * The screen of `hybridwire top`: a server's figures from two admin replies a second apart, as
 * lines of at most `width` characters (rates are the differences divided by the time between).
 */
import type { AdminPeer, AdminReply } from '../features/admin/admin.js';
import { DROP_CAUSES } from '../features/metrics/snapshot.js';
import { formatBytes, formatCount, formatDuration, formatMs } from '../features/metrics/format.js';

export interface TopFrame {
  reply: AdminReply;
  /** performance.now() when the reply came. */
  at: number;
}

const TYPES_SHOWN = 8;

function perSecond(now: number, before: number | undefined, seconds: number): number | undefined {
  return before === undefined || seconds <= 0 ? undefined : Math.max(0, (now - before) / seconds);
}

const rate = (value: number | undefined) => (value === undefined ? '–' : formatCount(value));

function pad(text: string, width: number, right = false): string {
  const cut = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

export function renderTop(target: string, current: TopFrame, previous: TopFrame | undefined, width = 100): string[] {
  const { figures, peers, sessionCount } = current.reply;
  const seconds = previous === undefined ? 0 : (current.at - previous.at) / 1000;
  const was = previous?.reply.figures;
  const totalIn = figures.tcp.messagesIn + figures.udp.messagesIn;
  const totalOut = figures.tcp.messagesOut + figures.udp.messagesOut;
  const inRate = perSecond(totalIn, was && was.tcp.messagesIn + was.udp.messagesIn, seconds);
  const outRate = perSecond(totalOut, was && was.tcp.messagesOut + was.udp.messagesOut, seconds);
  const bytesInRate = perSecond(figures.tcp.bytesIn + figures.udp.bytesIn, was && was.tcp.bytesIn + was.udp.bytesIn, seconds);
  const bytesOutRate = perSecond(figures.tcp.bytesOut + figures.udp.bytesOut, was && was.tcp.bytesOut + was.udp.bytesOut, seconds);
  const drops = DROP_CAUSES.reduce((sum, cause) => sum + figures.drops[cause], 0);
  const dropCauses = DROP_CAUSES.filter((cause) => figures.drops[cause] > 0).map((cause) => `${cause} ${formatCount(figures.drops[cause])}`);
  const lines = [
    `hybridwire top  ${target}  up ${formatDuration(figures.uptimeSeconds)}  peers ${formatCount(sessionCount)}  (q quits)`,
    `msg/s in ${rate(inRate)}  out ${rate(outRate)}    bytes/s in ${bytesInRate === undefined ? '–' : formatBytes(Math.round(bytesInRate))}  out ${bytesOutRate === undefined ? '–' : formatBytes(Math.round(bytesOutRate))}`,
    `RTT ${formatMs(figures.rtt.meanMs)}    drops ${formatCount(drops)}${dropCauses.length > 0 ? ` (${dropCauses.join(', ')})` : ''}    retransmissions ${formatCount(figures.retransmissions)}`,
    `handshakes ${formatCount(figures.handshakes.accepted)} accepted, ${formatCount(figures.handshakes.refused)} refused, ${formatCount(figures.handshakes.failed)} failed`,
    '',
    `${pad('busiest types', 32)}${pad('msg/s', 12, true)}${pad('total', 14, true)}`,
  ];
  const before = new Map(was?.types.map((entry) => [entry.type, entry.messages]));
  const types = figures.types
    .map((entry) => ({ ...entry, rate: perSecond(entry.messages, before.get(entry.type) ?? (was ? 0 : undefined), seconds) }))
    .sort((a, b) => (b.rate ?? 0) - (a.rate ?? 0) || b.messages - a.messages)
    .slice(0, TYPES_SHOWN);
  for (const entry of types) lines.push(`  ${pad(entry.type, 30)}${pad(rate(entry.rate), 12, true)}${pad(formatCount(entry.messages), 14, true)}`);
  if (types.length === 0) lines.push('  (none yet)');
  lines.push('', `${pad('peer', 10)}${pad('address', 24)}${pad('rtt', 10, true)}${pad('msg/s in', 12, true)}${pad('msg/s out', 12, true)}${pad('queued', 10, true)}`);
  const earlier = new Map<string, AdminPeer>(previous?.reply.peers.map((peer) => [peer.id, peer]));
  for (const peer of peers) {
    const old = earlier.get(peer.id);
    const address = peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
    lines.push(
      `${pad(peer.id.slice(0, 8), 10)}${pad(address, 24)}${pad(formatMs(peer.rttMs ?? undefined), 10, true)}${pad(rate(perSecond(peer.messagesIn, old?.messagesIn, seconds)), 12, true)}${pad(rate(perSecond(peer.messagesOut, old?.messagesOut, seconds)), 12, true)}${pad(formatBytes(peer.queuedBytes), 10, true)}`,
    );
  }
  if (sessionCount > peers.length) lines.push(`  … and ${formatCount(sessionCount - peers.length)} more`);
  return lines.map((line) => (line.length > width ? line.slice(0, width) : line));
}
