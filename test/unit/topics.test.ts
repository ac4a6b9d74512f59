/**
 * ts/pubsub/topics.ts: topic and filter validation (every bad topic and filter is refused with
 * HW_ERR_INVALID_TOPIC), `*` as `+`, `$share/GROUP/filter`, and the pairwise matcher.
 */
import { describe, expect, it } from 'vitest';
import { MQTT_MATCH_TABLE } from '../support/mqtt-match-table.js';
import { DEFAULT_TOPIC_LIMITS, checkTopic, filterMatches, filterName, parseFilter } from '../../ts/pubsub/topics.js';

const invalidTopic = expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' });

describe('topics', () => {
  it('takes names of any characters but the wildcards, case-sensitive, with empty levels', () => {
    for (const topic of ['sport', 'Accounts payable', 'ACCOUNTS', '/finance', 'finance/', '/', 'a//b', 'é/ü']) {
      expect(checkTopic(topic, DEFAULT_TOPIC_LIMITS)).toBe(topic);
    }
  });

  it('refuses empty topics, wildcards, U+0000, non-strings, and $-topics from clients', () => {
    for (const topic of ['', 'a/+', 'a/#', '#', '+', 'a/*', 'sport+', 'a\u0000b', 42, undefined, null, '$SYS/x']) {
      expect(() => checkTopic(topic, DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    }
    expect(checkTopic('$SYS/x', DEFAULT_TOPIC_LIMITS, true)).toBe('$SYS/x');
  });

  it('refuses more than maxTopicBytes UTF-8 bytes or maxTopicLevels levels (65535 and 128 by default)', () => {
    expect(checkTopic('x'.repeat(65_535), DEFAULT_TOPIC_LIMITS)).toHaveLength(65_535);
    expect(() => checkTopic('x'.repeat(65_536), DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    expect(() => checkTopic('é'.repeat(32_768), DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    expect(checkTopic(Array(128).fill('a').join('/'), DEFAULT_TOPIC_LIMITS)).toBe(Array(128).fill('a').join('/'));
    expect(() => checkTopic(Array(129).fill('a').join('/'), DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    expect(() => parseFilter(Array(129).fill('+').join('/'), DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    const small = { maxTopicBytes: 4, maxTopicLevels: 2 };
    expect(() => checkTopic('abcde', small)).toThrow(invalidTopic);
    expect(() => checkTopic('a/b/c', small)).toThrow(invalidTopic);
  });
});

describe('filters', () => {
  it('takes the valid filters of MQTT 3.1.1 section 4.7', () => {
    for (const filter of ['#', 'sport/#', 'sport/tennis/#', '+', '+/tennis/#', 'sport/+/player1', '/+', '+/+', '$SYS/#', 'a/b']) {
      expect(parseFilter(filter, DEFAULT_TOPIC_LIMITS)).toEqual({ filter, group: undefined });
    }
  });

  it('refuses malformed filters: # not last or not alone, + or * not alone, empty, non-strings', () => {
    for (const filter of ['sport/tennis#', 'sport/tennis/#/ranking', 'a/#/b', 'a+', 'sport+', '+a/b', 'a/*b', '##', '', 7, null, '$share/g', '$share//a', '$share/g+/a', '$share/g/']) {
      expect(() => parseFilter(filter, DEFAULT_TOPIC_LIMITS)).toThrow(invalidTopic);
    }
  });

  it('reads * as +', () => {
    expect(parseFilter('a/*/c', DEFAULT_TOPIC_LIMITS)).toEqual({ filter: 'a/+/c', group: undefined });
    expect(parseFilter('*', DEFAULT_TOPIC_LIMITS).filter).toBe('+');
  });

  it('reads $share/GROUP/filter as a shared subscription', () => {
    const parsed = parseFilter('$share/workers/jobs/+', DEFAULT_TOPIC_LIMITS);
    expect(parsed).toEqual({ filter: 'jobs/+', group: 'workers' });
    expect(filterName(parsed)).toBe('$share/workers/jobs/+');
  });
});

describe('filterMatches: the MQTT specification examples', () => {
  it.each(MQTT_MATCH_TABLE)('%s against %s: %s', (filter, topic, matches) => {
    expect(filterMatches(filter, topic)).toBe(matches);
  });
});
