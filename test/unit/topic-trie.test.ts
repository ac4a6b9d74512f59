/**
 * ts/pubsub/topic-trie.ts: the trie answers as the specification's table says, reports a filter's
 * first and last entries, prunes emptied nodes, and visits only matching filters.
 */
import { describe, expect, it } from 'vitest';
import { TopicTrie } from '../../ts/pubsub/topic-trie.js';
import { MQTT_MATCH_TABLE } from '../support/mqtt-match-table.js';

function matched(trie: TopicTrie<string>, topic: string): string[] {
  const found: string[] = [];
  trie.match(topic, (entries) => found.push(...entries.values()));
  return found.sort();
}

describe('TopicTrie', () => {
  it.each(MQTT_MATCH_TABLE)('%s against %s: %s (MQTT section 4.7)', (filter, topic, matches) => {
    const trie = new TopicTrie<string>();
    trie.set(filter, 'k', filter);
    // Beside unrelated filters, which must not change the answer.
    trie.set('other/branch', 'k', 'other/branch');
    trie.set('zzz/+', 'k', 'zzz/+');
    expect(matched(trie, topic).includes(filter)).toBe(matches);
  });

  it('visits every matching filter once, with all its entries', () => {
    const trie = new TopicTrie<string>();
    trie.set('a/b/c', 's1', 'exact');
    trie.set('a/+/c', 's1', 'plus');
    trie.set('a/#', 's2', 'hash');
    trie.set('#', 's3', 'all');
    trie.set('a/b', 's4', 'other');
    trie.set('a/b/c', 's5', 'exact2');
    expect(matched(trie, 'a/b/c')).toEqual(['all', 'exact', 'exact2', 'hash', 'plus']);
    expect(trie.size).toBe(6);
    expect(trie.filters).toBe(5);
  });

  it('says when a filter gains its first entry and loses its last, and prunes emptied nodes', () => {
    const trie = new TopicTrie<string>();
    expect(trie.set('a/b', 's1', 'x')).toBe(true);
    expect(trie.set('a/b', 's2', 'y')).toBe(false);
    expect(trie.set('a/b', 's2', 'z')).toBe(false);
    expect(trie.size).toBe(2);
    expect(trie.get('a/b', 's2')).toBe('z');
    expect(trie.delete('a/b', 's1')).toBe(false);
    expect(trie.delete('a/b', 'nobody')).toBe(false);
    expect(trie.delete('a/b', 's2')).toBe(true);
    expect(trie.filters).toBe(0);
    expect([...trie.filtersWithEntries()]).toEqual([]);
    expect(matched(trie, 'a/b')).toEqual([]);
    trie.set('a/b/c', 's', 'deep');
    expect([...trie.filtersWithEntries()].map(([filter]) => filter)).toEqual(['a/b/c']);
  });

  it('visits no more nodes with 100,000 non-matching subscriptions than with one', () => {
    // Cost is counted, not timed: the number of filters visited for a publish stays one.
    const trie = new TopicTrie<number>();
    trie.set('sensors/1/temp', 'me', 1);
    let visits = 0;
    trie.match('sensors/1/temp', () => visits++);
    expect(visits).toBe(1);
    for (let i = 0; i < 100_000; i++) trie.set(`other/${i}/temp`, `s${i}`, i);
    visits = 0;
    trie.match('sensors/1/temp', () => visits++);
    expect(visits).toBe(1);
  });
});
