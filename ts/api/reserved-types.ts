/**
 * Message types beginning with `hybridwire:` belong to the protocol (docs/PROTOCOL.md, section 5):
 * the admin request, pub/sub's `hybridwire:pubsub.*`, and those of later features. Applications may
 * neither handle nor send them; each session routes them to the feature that owns them before the
 * application's handlers.
 */
import { HybridwireError } from '../errors.js';

export const RESERVED_PREFIX = 'hybridwire:';

export function isReservedType(type: unknown): boolean {
  return typeof type === 'string' && type.startsWith(RESERVED_PREFIX);
}

/** What an application that handles or sends a reserved type is refused with. */
export function protocolTypeError(type: string): HybridwireError {
  return new HybridwireError('HW_ERR_INVALID_ARGUMENT', `message type ${JSON.stringify(type)} is reserved: types beginning with '${RESERVED_PREFIX}' belong to the protocol`);
}
