/** server.summary(): a server's figures as a few lines for people (seed 000's metrics summary). */
import { formatBytes, formatCount, formatDuration, formatMs } from './format.js';
import { DROP_CAUSES, type MetricsSnapshot } from './snapshot.js';

const TYPES_SHOWN = 5;

export function formatSummary(figures: MetricsSnapshot): string {
  const { handshakes, tcp, udp, drops, rtt } = figures;
  const dropTotal = DROP_CAUSES.reduce((sum, cause) => sum + drops[cause], 0);
  const dropCauses = DROP_CAUSES.filter((cause) => drops[cause] > 0).map((cause) => `${cause} ${formatCount(drops[cause])}`);
  const busiest = figures.types.filter((entry) => entry.messages > 0).slice(0, TYPES_SHOWN);
  return [
    `hybridwire server: up ${formatDuration(figures.uptimeSeconds)}, ${formatCount(figures.sessions)} session${figures.sessions === 1 ? '' : 's'} open`,
    `handshakes: ${formatCount(handshakes.accepted)} accepted, ${formatCount(handshakes.refused)} refused, ${formatCount(handshakes.failed)} failed`,
    `TCP: ${formatCount(tcp.messagesIn)} messages in (${formatBytes(tcp.bytesIn)}), ${formatCount(tcp.messagesOut)} out (${formatBytes(tcp.bytesOut)})`,
    `UDP: ${formatCount(udp.messagesIn)} messages in (${formatBytes(udp.bytesIn)}), ${formatCount(udp.messagesOut)} out (${formatBytes(udp.bytesOut)}), ${formatCount(figures.retransmissions)} retransmitted`,
    `RTT: ${rtt.meanMs === undefined ? 'not measured yet' : `${formatMs(rtt.meanMs)} (mean of the sessions' smoothed heartbeat RTT)`}, ${formatCount(rtt.samples)} heartbeat samples`,
    `drops: ${dropTotal === 0 ? 'none' : `${formatCount(dropTotal)} (${dropCauses.join(', ')})`}`,
    `busiest types: ${busiest.length === 0 ? 'none yet' : busiest.map((entry) => `${entry.type} ${formatCount(entry.messages)}`).join(', ')}`,
  ].join('\n');
}
