import { describe, expect, it } from 'vitest';
import { native } from '../../ts/native/addon.js';
import { ENDPOINT_OPTION_COUNT, ENDPOINT_STATE_COUNT, EndpointOption, SOCKET_ROW_WIDTH, SOCKET_ROWS } from '../../ts/native/layouts.js';

/**
 * Every number the addon takes is checked where it enters (native/binding/arguments.cc): NaN,
 * negatives, fractions and values past the range throw a coded error rather than becoming a size
 * or an index, and a value of the wrong type throws ERR_INVALID_ARG_TYPE. The TypeScript wrappers
 * never pass such values; these calls go to the addon directly, as a wrong wrapper would.
 */
const BAD_NUMBERS = [Number.NaN, -1, 1.5, 2 ** 60, Number.POSITIVE_INFINITY];
const outOfRange = expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' });
const wrongType = expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' });

function endpointOptions(): Float64Array {
  const values = new Float64Array(ENDPOINT_OPTION_COUNT);
  values[EndpointOption.MTU] = 1200;
  values[EndpointOption.MAX_MTU] = 1200;
  values[EndpointOption.WINDOW] = 64;
  values[EndpointOption.SEND_BUFFER_BYTES] = 1 << 20;
  values[EndpointOption.REASSEMBLY_BYTES] = 1 << 20;
  values[EndpointOption.REASSEMBLY_TIMEOUT_US] = 5_000_000;
  values[EndpointOption.MAX_ACK_DELAY_US] = 10_000;
  values[EndpointOption.MIN_RTO_US] = 100_000;
  values[EndpointOption.MAX_RTO_US] = 60_000_000;
  values[EndpointOption.SPAN] = 16384;
  return values;
}

function endpoint() {
  const handle = new native.ReliableEndpoint(Buffer.from('TOKEN--8'), endpointOptions());
  handle.setOutputs(Buffer.alloc(65536), new Uint32Array(7 * 64), new Uint32Array(ENDPOINT_STATE_COUNT));
  return handle;
}

describe('numbers passed to the addon', () => {
  it.each(BAD_NUMBERS)('the reliable endpoint refuses %s wherever it takes a number', (bad) => {
    const handle = endpoint();
    const payload = Buffer.alloc(10);
    const out = Buffer.alloc(65536);
    const lengths = new Uint32Array(64);
    const bytes = Buffer.alloc(64);
    const rows = new Uint32Array(SOCKET_ROW_WIDTH * 2);
    expect(() => handle.send(payload, bad, 0, 0)).toThrow(outOfRange);
    expect(() => handle.send(payload, 0, bad, 0)).toThrow(outOfRange);
    expect(() => handle.send(payload, 0, 0, bad)).toThrow(outOfRange);
    expect(() => handle.sendParts(payload, bad, payload, 0, 0, 0)).toThrow(outOfRange);
    expect(() => handle.sendParts(payload, 0, payload, bad, 0, 0)).toThrow(outOfRange);
    expect(() => handle.hasRoom(bad)).toThrow(outOfRange);
    expect(() => handle.dropOldestUnreliable(bad)).toThrow(outOfRange);
    expect(() => handle.receive(payload, bad)).toThrow(outOfRange);
    for (let argument = 0; argument < 5; argument++) {
      const numbers = [0, 1, 1000, 10, 1 << 20];
      numbers[argument] = bad;
      expect(() => handle.receiveRows(bytes, rows, numbers[0]!, numbers[1]!, numbers[2]!, numbers[3]!, numbers[4]!)).toThrow(outOfRange);
    }
    expect(() => handle.flush(bad, out, 0, lengths)).toThrow(outOfRange);
    expect(() => handle.flush(1000, out, bad, lengths)).toThrow(outOfRange);
    expect(() => handle.onTimeout(bad)).toThrow(outOfRange);
    // Nothing of the above reached the state machine.
    const stats = new Float64Array(64);
    handle.stats(stats);
    expect(Array.from(stats.subarray(9, 14))).toEqual([0, 0, 0, 0, 0]); // datagrams and messages, sent and received
  });

  it.each(BAD_NUMBERS)('the endpoint options, the shared budget and the frame codec refuse %s', (bad) => {
    for (let option = 0; option < ENDPOINT_OPTION_COUNT; option++) {
      const values = endpointOptions();
      values[option] = bad;
      expect(() => new native.ReliableEndpoint(Buffer.from('TOKEN--8'), values)).toThrow(outOfRange);
    }
    expect(() => new native.ReassemblyBudget(bad)).toThrow(outOfRange);
    const chunk = Buffer.alloc(32);
    const frameRows = new Uint32Array(6 * 4);
    const result = new Uint32Array(4);
    expect(() => native.decodeFrames(chunk, bad, frameRows, result, 1024)).toThrow(wrongType);
    expect(() => native.decodeFrames(chunk, 0, frameRows, result, bad)).toThrow(wrongType);
    expect(() => native.decodeDatagram(chunk, frameRows, result, bad)).toThrow(wrongType);
    expect(() => native.sealFrames(chunk, new Uint32Array(1), bad)).toThrow(wrongType);
  });

  it.each(BAD_NUMBERS)('the UDP socket refuses %s wherever it takes a number', (bad) => {
    const rows = new Uint32Array(SOCKET_ROW_WIDTH * SOCKET_ROWS);
    expect(() => new native.UdpSocket(false, rows, bad, () => {})).toThrow(outOfRange);
    const socket = new native.UdpSocket(false, rows, 1 << 20, () => {});
    try {
      socket.bind('127.0.0.1', 0);
      const target = socket.target('127.0.0.1', 9);
      const slab = Buffer.alloc(100);
      const lengths = Uint32Array.of(10, 10);
      expect(() => socket.sendBatch(slab, bad, lengths, 1, target)).toThrow(outOfRange);
      expect(() => socket.sendBatch(slab, 0, lengths, bad, target)).toThrow(outOfRange);
      expect(() => socket.setBufferSizes(bad, 0)).toThrow(outOfRange);
      expect(() => socket.setBufferSizes(0, bad)).toThrow(outOfRange);
      const stats = new Float64Array(6);
      socket.stats(stats);
      expect(stats[0]).toBe(0); // nothing was sent
    } finally {
      socket.close();
    }
  });

  it('a value that is not a number is a type error, and whole numbers in range still pass', () => {
    const handle = endpoint();
    expect(() => handle.hasRoom('12' as never)).toThrow(wrongType);
    expect(() => handle.onTimeout(undefined as never)).toThrow(wrongType);
    expect(handle.hasRoom(100)).toBe(true);
    expect(handle.send(Buffer.alloc(10), 1, 255, 0)).toBe(0);
    expect(handle.send(Buffer.alloc(10), 3, 0, 0)).toBe(3); // a whole number, but no mode: invalid
    expect(new native.ReassemblyBudget(0).used()).toBe(0);
  });
});
