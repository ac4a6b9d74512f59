// What N idle connections leave on a server's V8 heap, object by object: compares two heap
// snapshots of the same process (bench/e2e/scale.mjs --heap-snapshot writes them before and after
// the connections), takes the objects that are new in the second (snapshot ids are stable within a
// process), and groups them by what they are and who holds them: an object of a named class
// (Connection, Peer, Socket, ...) stands for itself; any other object (a Map, an array, a closure,
// a context, a backing store) is named by the path from the nearest named object that retains it,
// e.g. `Connection.outAliases → Map` or `Connection.encoder → FrameEncoder.slab → ArrayBuffer`.
// Sizes are V8's shallow sizes, divided by N: what each connection costs.
//
//   node bench/e2e/heap-summary.mjs BEFORE.heapsnapshot AFTER.heapsnapshot --per 2000 [--top 60]
//   node bench/e2e/heap-summary.mjs ... --by owner      (one row per named object: itself and all
//                                                        it alone holds, and who holds it)
//   node bench/e2e/heap-summary.mjs ... --by class      (one row per kind of object, not per path)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals: files } = parseArgs({
  allowPositionals: true,
  options: { per: { type: 'string' }, top: { type: 'string', default: '60' }, by: { type: 'string', default: 'path' } },
});
if (files.length !== 2 || !args.per) {
  console.error('usage: node bench/e2e/heap-summary.mjs BEFORE.heapsnapshot AFTER.heapsnapshot --per N [--top K] [--by path|owner|class]');
  process.exit(2);
}
const per = Number(args.per);
const top = Number(args.top);

/** Objects whose class says nothing of their owner: they are named by the path to one that does. */
const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', 'WeakMap', 'WeakSet', 'system / Context', 'ArrayBuffer', 'Uint8Array', 'Buffer', 'FastBuffer', 'Float64Array', 'Uint32Array', 'Promise', 'Function', 'EventEmitter', 'DataView', 'system / JSArrayBufferData']);
const MAX_DEPTH = 4;

function load(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const edgeFields = meta.edge_fields;
  return {
    nodes: snapshot.nodes,
    edges: snapshot.edges,
    strings: snapshot.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    F: fields.length,
    E: edgeFields.length,
    at: Object.fromEntries(fields.map((name, i) => [name, i])),
    edgeAt: Object.fromEntries(edgeFields.map((name, i) => [name, i])),
  };
}

const before = load(files[0]);
const beforeIds = new Set();
for (let i = 0; i < before.nodes.length; i += before.F) beforeIds.add(before.nodes[i + before.at.id]);

const after = load(files[1]);
const { nodes, edges, strings, nodeTypes, edgeTypes, F, E, at, edgeAt } = after;
const count = nodes.length / F;
const typeOf = (n) => nodeTypes[nodes[n * F + at.type]];
const nameOf = (n) => {
  const type = typeOf(n);
  const name = strings[nodes[n * F + at.name]];
  if (type === 'closure') return `closure ${name || '(anonymous)'}`;
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return 'string';
  if (type === 'number') return 'heap number';
  if (type === 'code') return 'code';
  if (type === 'hidden' || type === 'array' || type === 'object shape') return `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}…` : name}`;
  return name;
};
const sizeOf = (n) => nodes[n * F + at.self_size];
const isNew = new Uint8Array(count);
let newCount = 0;
for (let n = 0; n < count; n++) {
  if (!beforeIds.has(nodes[n * F + at.id])) {
    isNew[n] = 1;
    newCount++;
  }
}

// The first strong retainer of every new node, preferring one that is new itself (the session's
// own objects hold each other; old ones, such as the server's maps, hold only the way in).
const retainer = new Int32Array(count).fill(-1);
const retainerEdge = new Int32Array(count).fill(-1);
const retainerIsNew = new Uint8Array(count);
for (let n = 0, e = 0; n < count; n++) {
  const edgeCount = nodes[n * F + at.edge_count];
  for (let k = 0; k < edgeCount; k++, e += E) {
    const to = edges[e + edgeAt.to_node] / F;
    if (!isNew[to]) continue;
    const type = edgeTypes[edges[e + edgeAt.type]];
    if (type === 'weak' || type === 'shortcut') continue;
    if (retainer[to] === -1 || (!retainerIsNew[to] && isNew[n])) {
      retainer[to] = n;
      retainerEdge[to] = e;
      retainerIsNew[to] = isNew[n];
    }
  }
}

function edgeName(e) {
  const type = edgeTypes[edges[e + edgeAt.type]];
  const value = edges[e + edgeAt.name_or_index];
  if (type === 'element' || type === 'hidden') return `[${value}]`;
  return strings[value];
}

const named = (n) => (typeOf(n) === 'object' || typeOf(n) === 'native') && !GENERIC.has(nameOf(n));
const paths = new Map();
function pathOf(n, depth = 0) {
  if (named(n)) return nameOf(n);
  const cached = paths.get(n);
  if (cached !== undefined) return cached;
  const owner = retainer[n];
  let path;
  if (owner === -1) path = '(no retainer)';
  else if (!isNew[owner]) path = `(shared) ${nameOf(owner)}.${edgeName(retainerEdge[n])}`;
  else if (depth >= MAX_DEPTH) path = `… ${nameOf(owner)}.${edgeName(retainerEdge[n])}`;
  else path = `${pathOf(owner, depth + 1)}.${edgeName(retainerEdge[n])}`;
  // Element indexes vary from connection to connection: one row for all of them.
  path = path.replace(/\[\d+\]/g, '[i]');
  paths.set(n, path);
  return path;
}

/** The nearest named object on the way to `n` (itself if it is one), or a '(shared) …' holder. */
const owners = new Map();
function ownerOf(n, depth = 0) {
  if (named(n)) return n;
  const cached = owners.get(n);
  if (cached !== undefined) return cached;
  const holder = retainer[n];
  const owner = holder === -1 || !isNew[holder] || depth >= 2 * MAX_DEPTH ? -1 : ownerOf(holder, depth + 1);
  owners.set(n, owner);
  return owner;
}

/** How a named object is held: its retainer's path and the edge, e.g. `Connection.encoder`. */
function heldBy(n) {
  const holder = retainer[n];
  if (holder === -1) return '(no retainer)';
  const via = edgeName(retainerEdge[n]).replace(/^\[\d+\]$/, '[i]');
  return isNew[holder] ? `${pathOf(holder)}.${via}` : `(shared) ${nameOf(holder)}.${via}`;
}

const groups = new Map();
let newBytes = 0;
for (let n = 0; n < count; n++) {
  if (!isNew[n]) continue;
  const what = `${typeOf(n)}: ${nameOf(n)}`;
  let key;
  if (args.by === 'class') key = what;
  else if (args.by === 'owner') {
    const owner = ownerOf(n);
    key = owner === -1 ? `(held by older objects) ${pathOf(n)} → ${what}` : `${typeOf(owner)}: ${nameOf(owner)}`;
  } else key = named(n) ? what : `${pathOf(n)} → ${what}`;
  const group = groups.get(key) ?? { key, count: 0, bytes: 0, holders: new Map() };
  group.bytes += sizeOf(n);
  if (args.by !== 'owner' || named(n)) {
    group.count++;
    if (args.by === 'owner') {
      const holder = heldBy(n);
      group.holders.set(holder, (group.holders.get(holder) ?? 0) + 1);
    }
  }
  newBytes += sizeOf(n);
  groups.set(key, group);
}

const rows = [...groups.values()].sort((a, b) => b.bytes - a.bytes);
const holders = (group) =>
  [...group.holders]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([holder, n]) => `${holder} ×${(n / per).toFixed(2)}`)
    .join('; ');
console.log(`${files[1]} against ${files[0]}: ${newCount} new objects, ${newBytes} bytes (shallow); per connection (÷ ${per}): ${(newCount / per).toFixed(1)} objects, ${(newBytes / per).toFixed(0)} bytes`);
console.log('');
if (args.by === 'owner') {
  console.log('| per connection: bytes (itself and what only it holds) | instances | object | held by |');
  console.log('|---|---|---|---|');
} else {
  console.log('| per connection: bytes | objects | what (and who holds it) |');
  console.log('|---|---|---|');
}
const escape = (text) => text.replace(/\|/g, '\\|');
for (const row of rows.slice(0, top)) {
  const cells = [(row.bytes / per).toFixed(1), (row.count / per).toFixed(2), escape(row.key)];
  if (args.by === 'owner') cells.push(escape(holders(row)));
  console.log(`| ${cells.join(' | ')} |`);
}
const rest = rows.slice(top);
if (rest.length) console.log(`| ${(rest.reduce((sum, row) => sum + row.bytes, 0) / per).toFixed(1)} | ${(rest.reduce((sum, row) => sum + row.count, 0) / per).toFixed(2)} | ${rest.length} more rows |${args.by === 'owner' ? ' |' : ''}`);
