/**
 * Topics and filters as NATS subjects (ts/cluster/subjects.ts): levels to tokens, wildcards, the
 * escaping of what a NATS token cannot carry, and the way back.
 */
import { describe, expect, it } from 'vitest';
import { decodeLevel, encodeLevel, filterSubjects, MAX_SUBJECT_BYTES, subjectTopic, topicSubject } from '../../ts/cluster/subjects.js';

const P = 'hybridwire.msg';

describe('topicSubject / subjectTopic', () => {
  const table: Array<[topic: string, subject: string]> = [
    ['sensors/kitchen/temp', `${P}.sensors.kitchen.temp`],
    ['a', `${P}.a`],
    ['$SYS/broker', `${P}.$SYS.broker`],
    ['a.b/c', `${P}.a%2Eb.c`],
    ['a b', `${P}.a%20b`],
    ['tab\there', `${P}.tab%09here`],
    ['star*/gt>', `${P}.star%2A.gt%3E`],
    ['100%', `${P}.100%25`],
    ['/leading', `${P}.%.leading`],
    ['trailing/', `${P}.trailing.%`],
    ['a//b', `${P}.a.%.b`],
    ['/', `${P}.%.%`],
    ['ünï/日本', `${P}.%C3%BCn%C3%AF.%E6%97%A5%E6%9C%AC`],
    ['plus+hash#', `${P}.plus%2Bhash%23`],
    ["k=v:x@y~!,;'()[]{}|^&-_", `${P}.k=v:x@y~!,;'()[]{}|^&-_`],
  ];
  it.each(table)('%j <-> %s', (topic, subject) => {
    expect(topicSubject(P, topic)).toBe(subject);
    expect(subjectTopic(P, subject)).toBe(topic);
  });

  it('a subject has no empty token, no whitespace and no wildcard token, whatever the topic', () => {
    for (const [topic] of table) {
      const tokens = topicSubject(P, topic).split('.');
      for (const token of tokens) {
        expect(token).not.toBe('');
        expect(token).not.toMatch(/[\s*>]/);
      }
    }
  });

  it('refuses a topic whose subject would be longer than MAX_SUBJECT_BYTES', () => {
    expect(() => topicSubject(P, 'x'.repeat(MAX_SUBJECT_BYTES))).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
    expect(() => topicSubject(P, 'x'.repeat(MAX_SUBJECT_BYTES - P.length - 1))).not.toThrow();
  });

  it('refuses subjects it could not have written', () => {
    expect(() => subjectTopic(P, 'other.a')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
    expect(() => decodeLevel('a%2')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
    expect(() => decodeLevel('a%zz')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
    expect(() => decodeLevel('%2e')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
  });

  it('encodeLevel and decodeLevel are inverse on every single character of the first 512 code points', () => {
    for (let code = 0; code < 512; code++) {
      const level = `x${String.fromCodePoint(code)}y`;
      expect(decodeLevel(encodeLevel(level))).toBe(level);
    }
  });
});

describe('filterSubjects', () => {
  const table: Array<[filter: string, subjects: string[]]> = [
    ['sensors/+/temp', [`${P}.sensors.*.temp`]],
    ['sensors/*/temp', [`${P}.sensors.*.temp`]],
    ['sensors/#', [`${P}.sensors.>`, `${P}.sensors`]],
    ['#', [`${P}.>`]],
    ['+', [`${P}.*`]],
    ['+/#', [`${P}.*.>`, `${P}.*`]],
    ['a.b/+', [`${P}.a%2Eb.*`]],
    ['/+', [`${P}.%.*`]],
    ['exact/topic', [`${P}.exact.topic`]],
  ];
  it.each(table)('%s -> %j', (filter, subjects) => {
    expect(filterSubjects(P, filter)).toEqual(subjects);
  });
});
