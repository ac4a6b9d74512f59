import { describe, expect, it } from 'vitest';
import { readStats } from '../../ts/reliable/endpoint-stats.js';
import { ENDPOINT_STAT_COUNT, EndpointStat } from '../../ts/native/layouts.js';

describe('readStats', () => {
  it('reads every native statistic by name, times in milliseconds, with what the wrapper adds', () => {
    // Each native value is its index plus 1000, so that a value read from the wrong place shows.
    const values = Float64Array.from({ length: ENDPOINT_STAT_COUNT }, (_, index) => 1000 + index);
    const stats = readStats(values, 64, 300, 7);
    const at = (name: keyof typeof EndpointStat) => 1000 + EndpointStat[name];
    expect(stats).toEqual({
      rttMs: at('SRTT_US') / 1000,
      rttVarianceMs: at('RTTVAR_US') / 1000,
      minRttMs: at('MIN_RTT_US') / 1000,
      rtoMs: at('RTO_US') / 1000,
      congestionWindow: at('CWND'),
      bytesInFlight: at('BYTES_IN_FLIGHT'),
      messagesInFlight: at('MESSAGES_IN_FLIGHT'),
      window: 64,
      sendBufferBytes: at('SEND_BUFFER_BYTES') + 300,
      reassemblyBytes: at('REASSEMBLY_BYTES'),
      datagramsSent: at('DATAGRAMS_SENT'),
      bytesSent: at('BYTES_SENT'),
      datagramsReceived: at('DATAGRAMS_RECEIVED'),
      bytesReceived: at('BYTES_RECEIVED'),
      messagesSent: at('MESSAGES_SENT'),
      messagesDelivered: at('MESSAGES_DELIVERED'),
      framesDelivered: at('FRAMES_DELIVERED'),
      retransmissions: at('RETRANSMISSIONS'),
      lost: at('LOST'),
      spuriousLosses: at('SPURIOUS_LOSSES'),
      pathMtu: at('PATH_MTU'),
      mtuProbesSent: at('MTU_PROBES_SENT'),
      mtuProbesLost: at('MTU_PROBES_LOST'),
      timeouts: at('TIMEOUTS'),
      drops: {
        badChecksum: at('DROPS_BAD_CHECKSUM'),
        malformed: at('DROPS_MALFORMED'),
        duplicate: at('DROPS_DUPLICATE'),
        stale: at('DROPS_STALE'),
        windowOverflow: at('DROPS_WINDOW_OVERFLOW'),
        reassemblyOverflow: at('DROPS_REASSEMBLY_OVERFLOW'),
        expired: at('DROPS_EXPIRED'),
        sendBuffer: at('DROPS_SEND_BUFFER') + 7,
      },
    });
  });
});
