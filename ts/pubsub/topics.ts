/**
 * Topic names and filters (docs/PROTOCOL.md 10.2), as MQTT has them: `/`-separated levels; in a
 * filter `+` matches one level and `#` the rest (the last level only, its parent included); `*` is
 * a synonym of `+`. `$share/GROUP/filter` is a shared subscription. Publish topics take no wildcard.
 * Topics beginning with `$` are the server's: clients may not publish to them, and a filter whose
 * first level is a wildcard does not match them.
 */
import { HybridwireError } from '../errors.js';

export interface TopicLimits {
  /** UTF-8 bytes of a topic or filter. Default 65535. */
  maxTopicBytes: number;
  /** Levels of a topic or filter. Default 128. */
  maxTopicLevels: number;
}

export const DEFAULT_TOPIC_LIMITS: TopicLimits = { maxTopicBytes: 65_535, maxTopicLevels: 128 };

/** A filter as subscribed: the normalized filter (`*` written `+`), and its share group if any. */
export interface ParsedFilter {
  /** The filter matched against topics: `*` levels written `+`, `$share/GROUP/` removed. */
  filter: string;
  /** The group of a shared subscription (`$share/GROUP/filter`). */
  group: string | undefined;
}

const SHARE_PREFIX = '$share/';

function invalid(message: string): HybridwireError {
  return new HybridwireError('HW_ERR_INVALID_TOPIC', message);
}

function checkText(what: string, value: unknown, limits: TopicLimits): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`${what} must be a non-empty string`);
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short strings need no count.
  if (value.length * 3 > limits.maxTopicBytes) {
    const bytes = Buffer.byteLength(value);
    if (bytes > limits.maxTopicBytes) throw invalid(`${what} is ${bytes} bytes; maxTopicBytes is ${limits.maxTopicBytes}`);
  }
  if (value.includes('\u0000')) throw invalid(`${what} may not contain U+0000`);
  return value;
}

function levelsOf(what: string, value: string, limits: TopicLimits): string[] {
  const levels = value.split('/');
  if (levels.length > limits.maxTopicLevels) throw invalid(`${what} has ${levels.length} levels; maxTopicLevels is ${limits.maxTopicLevels}`);
  return levels;
}

/**
 * Checks a topic to publish to; returns it. `server` allows `$`-topics, which clients may not
 * publish to.
 */
export function checkTopic(topic: unknown, limits: TopicLimits, server = false): string {
  const text = checkText('topic', topic, limits);
  if (/[+#*]/.test(text)) throw invalid(`topic ${JSON.stringify(text)} contains a wildcard (+, # or *); only filters may`);
  if (!server && text.charCodeAt(0) === 0x24 /* $ */) throw invalid(`topic ${JSON.stringify(text)} begins with $: those topics are the server's`);
  levelsOf('topic', text, limits);
  return text;
}

/** Checks and normalizes a filter to subscribe to. */
export function parseFilter(filter: unknown, limits: TopicLimits): ParsedFilter {
  let text = checkText('filter', filter, limits);
  let group: string | undefined;
  if (text.startsWith(SHARE_PREFIX)) {
    const slash = text.indexOf('/', SHARE_PREFIX.length);
    group = text.slice(SHARE_PREFIX.length, slash < 0 ? text.length : slash);
    if (slash < 0 || group.length === 0 || /[+#*]/.test(group)) {
      throw invalid(`shared subscription ${JSON.stringify(text)} must be $share/GROUP/filter with a GROUP of no wildcard`);
    }
    text = text.slice(slash + 1);
    if (text.length === 0) throw invalid('shared subscription without a filter');
  }
  const levels = levelsOf('filter', text, limits);
  let normalized = false;
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#') {
      if (i !== levels.length - 1) throw invalid(`filter ${JSON.stringify(text)}: # must be the last level`);
    } else if (level === '*') {
      levels[i] = '+';
      normalized = true;
    } else if (level !== '+' && /[+#*]/.test(level)) {
      throw invalid(`filter ${JSON.stringify(text)}: a wildcard must be a whole level`);
    }
  }
  return { filter: normalized ? levels.join('/') : text, group };
}

/** The subscription's name as given back to the application: `$share/GROUP/filter` or the filter. */
export function filterName(parsed: ParsedFilter): string {
  return parsed.group === undefined ? parsed.filter : `${SHARE_PREFIX}${parsed.group}/${parsed.filter}`;
}

/** Whether the (normalized) filter matches the topic: the trie's answer for one pair, for tests and checks. */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.charCodeAt(0) === 0x24 && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
