/**
 * Client identity (docs/PROTOCOL.md 3.2, HELLO `clientId`): the id a client names in its HELLO,
 * and the rule that one id has at most one session at a time. A second session with the same
 * clientId takes over: the older one is closed with ERROR HW_ERR_SESSION_TAKEN_OVER, as an MQTT
 * broker does. A session that names no clientId is known by its session id, which is unique.
 */
import { HybridwireError, OptionError } from '../errors.js';
import { CLIENT_ID_BYTES, isClientId } from '../session/handshake.js';

/** connect()'s `clientId` option, checked. */
export function checkClientIdOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (!isClientId(value)) {
    throw new OptionError(`option clientId must be a string of ${CLIENT_ID_BYTES.min} to ${CLIENT_ID_BYTES.max} UTF-8 bytes`, 'clientId');
  }
  return value;
}

/** What the registry needs of a session. */
export interface IdentifiedSession {
  readonly id: string;
  readonly clientId: string | undefined;
}

/** The key a session is known by: its clientId, or its session id when it named none. */
export function identityOf(session: IdentifiedSession): string {
  return session.clientId ?? session.id;
}

/** The error the older session of a takeover is closed with. */
export function takenOver(clientId: string): HybridwireError {
  return new HybridwireError('HW_ERR_SESSION_TAKEN_OVER', `another session opened with clientId ${JSON.stringify(clientId)}`);
}

/** The open sessions by identity: at most one each. */
export class ClientIdRegistry<Session extends IdentifiedSession> {
  private readonly sessions = new Map<string, Session>();

  get(identity: string): Session | undefined {
    return this.sessions.get(identity);
  }

  /** Registers an opened session; returns the session it takes over from, if any, for the caller to close. */
  add(session: Session): Session | undefined {
    const identity = identityOf(session);
    const older = this.sessions.get(identity);
    this.sessions.set(identity, session);
    return older === session ? undefined : older;
  }

  /** A session closed: it is forgotten unless another has taken its identity over since. */
  remove(session: Session): void {
    const identity = identityOf(session);
    if (this.sessions.get(identity) === session) this.sessions.delete(identity);
  }
}
