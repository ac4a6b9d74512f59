/**
 * Subscriptions by filter, in a trie of topic levels: a publish walks one path per wildcard it
 * meets, so its cost depends on the topic's levels and the subscriptions that match, never on how
 * many do not. Each filter's node holds its entries by key (a session's identity, or a share group).
 */

interface TrieNode<V> {
  children: Map<string, TrieNode<V>> | undefined;
  /** Entries of the filter that ends here, by key; undefined when none. */
  entries: Map<string, V> | undefined;
  parent: TrieNode<V> | undefined;
  level: string;
}

function newNode<V>(parent: TrieNode<V> | undefined, level: string): TrieNode<V> {
  return { children: undefined, entries: undefined, parent, level };
}

export class TopicTrie<V> {
  private readonly root: TrieNode<V> = newNode(undefined, '');
  /** Filters with at least one entry. */
  private filterCount = 0;
  private entryCount = 0;

  /** Filters that have at least one entry. */
  get filters(): number {
    return this.filterCount;
  }

  /** Entries over all filters. */
  get size(): number {
    return this.entryCount;
  }

  /** The entry under `key` at `filter` (normalized, see parseFilter). */
  get(filter: string, key: string): V | undefined {
    let node: TrieNode<V> | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return undefined;
    }
    return node.entries?.get(key);
  }

  /** Sets the entry under `key` at `filter`; returns true when the filter had no entry before. */
  set(filter: string, key: string, value: V): boolean {
    let node = this.root;
    for (const level of filter.split('/')) {
      const children: Map<string, TrieNode<V>> = (node.children ??= new Map());
      let child = children.get(level);
      if (child === undefined) {
        child = newNode(node, level);
        children.set(level, child);
      }
      node = child;
    }
    const entries = (node.entries ??= new Map());
    const first = entries.size === 0;
    if (!entries.has(key)) this.entryCount++;
    entries.set(key, value);
    if (first) this.filterCount++;
    return first;
  }

  /** Removes the entry under `key` at `filter`; returns true when that was the filter's last. */
  delete(filter: string, key: string): boolean {
    let node: TrieNode<V> | undefined = this.root;
    for (const level of filter.split('/')) {
      node = node.children?.get(level);
      if (node === undefined) return false;
    }
    const entries = node.entries;
    if (entries === undefined || !entries.delete(key)) return false;
    this.entryCount--;
    if (entries.size > 0) return false;
    node.entries = undefined;
    this.filterCount--;
    // Nodes left with nothing are pruned, so that the trie's size follows the live subscriptions.
    while (node.parent !== undefined && node.entries === undefined && (node.children === undefined || node.children.size === 0)) {
      node.parent.children!.delete(node.level);
      node = node.parent;
    }
    return true;
  }

  /**
   * Calls `visit(entries, filter-node)` for every filter that matches `topic` (a valid topic name).
   * A filter whose first level is a wildcard does not match a topic beginning with `$`.
   */
  match(topic: string, visit: (entries: Map<string, V>) => void): void {
    const levels = topic.split('/');
    this.walk(this.root, levels, 0, topic.charCodeAt(0) === 0x24, visit);
  }

  private walk(node: TrieNode<V>, levels: string[], depth: number, dollar: boolean, visit: (entries: Map<string, V>) => void): void {
    const children = node.children;
    if (children === undefined) return;
    const wildcardsAllowed = !(dollar && depth === 0);
    // `#` matches the rest, its parent level included ('sport/#' matches 'sport').
    if (wildcardsAllowed) {
      const rest = children.get('#');
      if (rest?.entries !== undefined) visit(rest.entries);
    }
    if (depth === levels.length) return;
    const exact = children.get(levels[depth]!);
    if (exact !== undefined) this.arrive(exact, levels, depth + 1, dollar, visit);
    if (wildcardsAllowed) {
      const one = children.get('+');
      if (one !== undefined) this.arrive(one, levels, depth + 1, dollar, visit);
    }
  }

  private arrive(node: TrieNode<V>, levels: string[], depth: number, dollar: boolean, visit: (entries: Map<string, V>) => void): void {
    if (depth === levels.length && node.entries !== undefined) visit(node.entries);
    this.walk(node, levels, depth, dollar, visit);
  }

  /** Every filter with its entries (for stats, persistence and the cluster's interest). */
  *filtersWithEntries(): IterableIterator<[string, Map<string, V>]> {
    const stack: Array<[TrieNode<V>, string]> = [[this.root, '']];
    while (stack.length > 0) {
      const [node, path] = stack.pop()!;
      if (node !== this.root && node.entries !== undefined) yield [path, node.entries];
      if (node.children) for (const [level, child] of node.children) stack.push([child, node === this.root ? level : `${path}/${level}`]);
    }
  }
}
