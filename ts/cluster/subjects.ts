/**
 * Topics and filters ↔ NATS subjects.
 *
 * A topic's `/`-separated levels become a subject's `.`-separated tokens under a prefix
 * (`hybridwire.msg` by default): `sensors/kitchen/temp` → `hybridwire.msg.sensors.kitchen.temp`.
 * In filters, `+` and `*` (one level) become NATS's `*`, and a last-level `#` (the rest) becomes
 * NATS's `>`. MQTT's `a/#` also matches `a` itself, which `a.>` does not: such a filter is
 * subscribed as two subjects, `a.>` and `a` (filterSubjects returns both).
 *
 * A token cannot carry `.`, `*`, `>`, whitespace, or be empty, and subjects are safest in printable
 * ASCII, so each level is escaped: bytes other than `A-Z a-z 0-9 - _ $ : @ = ~ ! , ; ' ( ) [ ] { } | ^ &`
 * are written `%XX` (upper-case hex of each UTF-8 byte, `%` itself included), and an empty level
 * is written `%` alone (never ambiguous: an escape is always `%` and two hex digits). Decoding
 * reverses it exactly, so a subject names one topic and a topic one subject.
 *
 * Topics whose subject is longer than MAX_SUBJECT_BYTES cannot cross nodes (nats-server's protocol
 * line is 4,096 bytes by default) and are refused by the cluster with HW_ERR_INVALID_TOPIC.
 */
import { HybridwireError } from '../errors.js';

export const DEFAULT_SUBJECT_PREFIX = 'hybridwire';
/** The longest subject the cluster sends: below nats-server's default max_control_line (4096). */
export const MAX_SUBJECT_BYTES = 3800;

const PLAIN = /^[A-Za-z0-9\-_$:@=~!,;'()[\]{}|^&]$/;

/** One level of a topic as one NATS token. */
export function encodeLevel(level: string): string {
  if (level === '') return '%';
  let token = '';
  for (const char of level) {
    if (PLAIN.test(char)) {
      token += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) token += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return token;
}

/** The inverse of encodeLevel; throws HW_ERR_INVALID_TOPIC on a token it could not have written. */
export function decodeLevel(token: string): string {
  if (token === '%') return '';
  if (!token.includes('%')) return token;
  const bytes: number[] = [];
  for (let index = 0; index < token.length; ) {
    const char = token[index]!;
    if (char === '%') {
      const hex = token.slice(index + 1, index + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new HybridwireError('HW_ERR_INVALID_TOPIC', `bad escape in subject token '${token}'`);
      bytes.push(parseInt(hex, 16));
      index += 3;
    } else {
      bytes.push(char.charCodeAt(0));
      index++;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The subject a message on `topic` is published to. */
export function topicSubject(prefix: string, topic: string): string {
  const subject = `${prefix}.${topic.split('/').map(encodeLevel).join('.')}`;
  if (Buffer.byteLength(subject) > MAX_SUBJECT_BYTES) throw new HybridwireError('HW_ERR_INVALID_TOPIC', `topic is too long to cross nodes (its NATS subject would exceed ${MAX_SUBJECT_BYTES} bytes)`);
  return subject;
}

/** The topic of a subject written by topicSubject(prefix, ...). */
export function subjectTopic(prefix: string, subject: string): string {
  if (!subject.startsWith(`${prefix}.`)) throw new HybridwireError('HW_ERR_INVALID_TOPIC', `subject '${subject}' is not under '${prefix}'`);
  return subject
    .slice(prefix.length + 1)
    .split('.')
    .map(decodeLevel)
    .join('/');
}

/**
 * The subjects to subscribe for a filter (already validated by pub/sub): one, or two for a filter
 * ending in `#`, whose parent level matches too (`a/#` matches `a`). A filter that is `#` alone
 * matches every topic: `prefix.>` covers them all, empty one-level topics included.
 */
export function filterSubjects(prefix: string, filter: string): string[] {
  const levels = filter.split('/');
  const tokens = levels.map((level) => (level === '+' || level === '*' ? '*' : level === '#' ? '>' : encodeLevel(level)));
  const subject = `${prefix}.${tokens.join('.')}`;
  if (Buffer.byteLength(subject) > MAX_SUBJECT_BYTES) throw new HybridwireError('HW_ERR_INVALID_TOPIC', `filter is too long to cross nodes (its NATS subject would exceed ${MAX_SUBJECT_BYTES} bytes)`);
  if (levels.length > 1 && levels[levels.length - 1] === '#') return [subject, `${prefix}.${tokens.slice(0, -1).join('.')}`];
  return [subject];
}

/** One token for an arbitrary name (a client id, a node name) in a subject. */
export function nameToken(name: string): string {
  return encodeLevel(name);
}
