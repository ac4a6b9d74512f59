/**
 * ts/api/reserved-types.ts: the `hybridwire:` prefix, and its refusal in the handler table.
 */
import { describe, expect, it } from 'vitest';
import { isReservedType, protocolTypeError } from '../../ts/api/reserved-types.js';
import { HandlerTable } from '../../ts/api/handler-table.js';

describe('reserved types', () => {
  it('are those beginning with hybridwire:', () => {
    expect(isReservedType('hybridwire:pubsub.publish')).toBe(true);
    expect(isReservedType('hybridwire:admin')).toBe(true);
    expect(isReservedType('hybridwire')).toBe(false);
    expect(isReservedType('chat')).toBe(false);
    expect(protocolTypeError('hybridwire:x')).toMatchObject({ code: 'HW_ERR_INVALID_ARGUMENT' });
  });

  it('cannot be handled by the application; a feature takes them first', () => {
    const table = new HandlerTable<unknown>();
    expect(() => table.set('hybridwire:pubsub.publish', () => {})).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    const feature = () => 'feature';
    table.setProtocol('hybridwire:pubsub.publish', feature);
    expect(table.handlerFor('hybridwire:pubsub.publish')).toBe(feature);
  });
});
