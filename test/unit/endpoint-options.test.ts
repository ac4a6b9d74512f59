import { describe, expect, it } from 'vitest';
import { checkPolicy, isSpan, resolveEndpointOptions } from '../../ts/reliable/endpoint-options.js';
import { EndpointOption } from '../../ts/native/layouts.js';

const base = { token: Buffer.from('AAAAAAAA'), onDatagram: () => {} };

describe('resolveEndpointOptions', () => {
  it('applies the defaults and lays the native options out by name, times in microseconds', () => {
    const resolved = resolveEndpointOptions(base);
    expect(resolved).toMatchObject({ mtu: 1200, maxMtu: 1200, window: 1024, sendBufferBytes: 4 << 20, batchDelayMs: 0, overflow: 'wait' });
    const values = resolved.native;
    expect(values[EndpointOption.MTU]).toBe(1200);
    expect(values[EndpointOption.MAX_MTU]).toBe(1200);
    expect(values[EndpointOption.WINDOW]).toBe(1024);
    expect(values[EndpointOption.SEND_BUFFER_BYTES]).toBe(4 << 20);
    expect(values[EndpointOption.REASSEMBLY_BYTES]).toBe(4 << 20);
    expect(values[EndpointOption.REASSEMBLY_TIMEOUT_US]).toBe(5_000_000);
    expect(values[EndpointOption.MAX_ACK_DELAY_US]).toBe(10_000);
    expect(values[EndpointOption.MIN_RTO_US]).toBe(100_000);
    expect(values[EndpointOption.MAX_RTO_US]).toBe(60_000_000);
    expect(values[EndpointOption.SPAN]).toBe(16384);
  });

  it('passes what it is given', () => {
    const values = resolveEndpointOptions({ ...base, mtu: 1400, maxMtu: 9000, wireOverhead: 24, reassemblyTimeoutMs: 250, span: 2048, minRtoMs: 7 }).native;
    expect(values[EndpointOption.MTU]).toBe(1400);
    expect(values[EndpointOption.WIRE_OVERHEAD]).toBe(24);
    expect(values[EndpointOption.MAX_MTU]).toBe(9000);
    expect(values[EndpointOption.REASSEMBLY_TIMEOUT_US]).toBe(250_000);
    expect(values[EndpointOption.SPAN]).toBe(2048);
    expect(values[EndpointOption.MIN_RTO_US]).toBe(7000);
  });

  it('validates its options, naming the option and the range', () => {
    expect(() => resolveEndpointOptions({ ...base, mtu: 100 })).toThrow(/mtu must be an integer from 128 to 65507/);
    expect(() => resolveEndpointOptions({ ...base, mtu: 1200.5 })).toThrow(/mtu must be an integer/);
    expect(() => resolveEndpointOptions({ ...base, maxMtu: 1000 })).toThrow(/maxMtu must be an integer from 1200/);
    expect(() => resolveEndpointOptions({ ...base, window: 0 })).toThrow(/window/);
    expect(() => resolveEndpointOptions({ ...base, wireOverhead: 1025 })).toThrow(/wireOverhead must be an integer from 0 to 1024/);
    expect(() => resolveEndpointOptions({ ...base, span: 3000 })).toThrow(/span must be a power of two/);
    expect(() => resolveEndpointOptions({ ...base, minRtoMs: 500, maxRtoMs: 100 })).toThrow(/maxRtoMs must be an integer from 500/);
    expect(() => resolveEndpointOptions({ ...base, reassemblyTimeoutMs: Number.NaN })).toThrow(/reassemblyTimeoutMs/);
    expect(() => resolveEndpointOptions({ ...base, overflow: 'later' as never })).toThrow(/overflow must be one of/);
    expect(() => resolveEndpointOptions({ ...base, token: Buffer.alloc(4) })).toThrow(/token/);
    expect(() => resolveEndpointOptions({ token: base.token })).toThrow(/onDatagram/);
    expect(() => resolveEndpointOptions({ ...base, budget: {} as never })).toThrow(/budget must be a ReassemblyBudget/);
    expect(() => resolveEndpointOptions({ ...base, now: 5 as never })).toThrow(/now must be a function/);
  });
});

describe('isSpan and checkPolicy', () => {
  it('takes powers of two from 1024 to 65536 as spans', () => {
    expect([1024, 2048, 16384, 65536].every(isSpan)).toBe(true);
    expect([512, 1000, 3072, 131072, 1024.5].some(isSpan)).toBe(false);
  });

  it('takes the three overflow policies and nothing else', () => {
    expect(checkPolicy('overflow', 'error')).toBe('error');
    expect(() => checkPolicy('overflow', 'drop')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION' }));
  });
});
