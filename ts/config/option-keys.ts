/**
 * Every option a configuration may set, with its kind: the integer options come from the one
 * table of ranges (ts/api/option-ranges.ts), the few others are listed here. A key is the option's
 * own name (`maxConnections`) or, for a field of an object option, its path (`reconnect.maxAttempts`);
 * its variable is HYBRIDWIRE_ plus the path in upper snake case.
 */
import { CLIENT_RANGES, CLUSTER_RANGES, LIMIT_RANGES, PUBSUB_RANGES, RATE_LIMIT_RANGES, SERVER_RANGES, STREAM_RANGES } from '../api/option-ranges.js';
import { RATE_LIMIT_ACTIONS } from '../qos/rate-limit.js';
import { ADMIN_TOKEN_LENGTH } from '../features/admin/admin.js';
import { BUILTIN_NAMES, DEFAULT_BUILTINS } from '../api/builtins.js';
import { ALGORITHM_NAMES } from '../compression/algorithms.js';

export type OptionKind =
  | { type: 'integer'; min: number; max: number }
  | { type: 'port' }
  | { type: 'port-or-false' }
  | { type: 'boolean' }
  | { type: 'string'; minLength?: number; maxLength?: number }
  | { type: 'choice'; values: readonly string[] }
  | { type: 'number'; min: number; max: number }
  /** An object option that may also be given as `true` or `false` (reconnect, compression); `fields` names its keys. */
  | { type: 'boolean-or-table'; fields: readonly string[] }
  /** A list of some of `values` (in a variable: names separated by commas). */
  | { type: 'list'; values: readonly string[] }
  /** `true` (all), `false` (none), or a list of some of `values` (builtins). */
  | { type: 'boolean-or-list'; values: readonly string[] }
  /** A table whose keys are options of their own (rateLimit.messagesPerSecond). */
  | { type: 'table' }
  /** rateLimits: a table of limits by message type or topic filter, or a list of them (ts/qos/rate-limit.ts). */
  | { type: 'rate-limits' };

/** Who takes an option: createServer(), connect(), or both. */
export type OptionUse = 'server' | 'client' | 'both';

export interface OptionKey {
  key: string;
  kind: OptionKind;
  use: OptionUse;
  /** The library's default, where it has one that can be printed. */
  default?: unknown;
  /** Never printed nor repeated in an error. */
  secret?: boolean;
}

/** The options that are not integers with a range, by who takes them. */
const ADDRESS_KEYS: OptionKey[] = [
  { key: 'host', kind: { type: 'string' }, use: 'both' },
  { key: 'tcpPort', kind: { type: 'port' }, use: 'both', default: 0 },
  { key: 'udpPort', kind: { type: 'port-or-false' }, use: 'both', default: 0 },
  { key: 'path', kind: { type: 'string' }, use: 'both' },
];
/** The `compression` option (ts/compression/settings.ts); `compression.level` in a file is one number. */
const COMPRESSION_KEYS: OptionKey[] = [
  { key: 'compression', kind: { type: 'boolean-or-table', fields: ['algorithm', 'level', 'threshold'] }, use: 'both' },
  { key: 'compression.algorithm', kind: { type: 'list', values: ALGORITHM_NAMES }, use: 'both' },
  { key: 'compression.level', kind: { type: 'integer', min: 0, max: 22 }, use: 'both' },
  { key: 'compression.threshold', kind: { type: 'integer', min: 0, max: 2 ** 32 }, use: 'both' },
];
const OTHER_SERVER_KEYS: OptionKey[] = [
  { key: 'builtins', kind: { type: 'boolean-or-list', values: BUILTIN_NAMES }, use: 'server', default: DEFAULT_BUILTINS },
  { key: 'adminToken', kind: { type: 'string', minLength: ADMIN_TOKEN_LENGTH.min, maxLength: ADMIN_TOKEN_LENGTH.max }, use: 'server', secret: true },
];
/** The fields of the `cluster` option (a `[cluster]` table in a file; `hybridwire serve --cluster URL`). */
const CLUSTER_KEYS: OptionKey[] = [
  { key: 'cluster.nats', kind: { type: 'string', minLength: 1 }, use: 'server' },
  { key: 'cluster.name', kind: { type: 'string', minLength: 1, maxLength: 64 }, use: 'server' },
  { key: 'cluster.subjectPrefix', kind: { type: 'string', minLength: 1, maxLength: 32 }, use: 'server', default: 'hybridwire' },
];
/** The fields of the `persistence` option (a `[persistence]` table in a file). */
const PERSISTENCE_KEYS: OptionKey[] = [{ key: 'persistence.dir', kind: { type: 'string', minLength: 1 }, use: 'server' }];
const OTHER_CLIENT_KEYS: OptionKey[] = [
  { key: 'mode', kind: { type: 'choice', values: ['burst', 'step'] }, use: 'client', default: 'burst' },
  { key: 'clientId', kind: { type: 'string' }, use: 'client' },
  { key: 'reconnect', kind: { type: 'boolean-or-table', fields: ['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'jitter'] }, use: 'client', default: false },
  { key: 'reconnect.jitter', kind: { type: 'number', min: 0, max: 1 }, use: 'client', default: 0.2 },
  { key: 'cleanSession', kind: { type: 'boolean' }, use: 'client', default: true },
];

/** rateLimit (createServer(): per peer; connect(): shapes its sends) and rateLimits (servers). Rates have no default: unset is unlimited. */
const RATE_LIMIT_KEYS: OptionKey[] = [
  { key: 'rateLimit', kind: { type: 'table' }, use: 'both' },
  ...Object.entries(RATE_LIMIT_RANGES).map(([key, range]): OptionKey => ({ key, kind: { type: 'integer', min: range.min, max: range.max }, use: 'both' })),
  { key: 'rateLimit.action', kind: { type: 'choice', values: RATE_LIMIT_ACTIONS }, use: 'both' },
  { key: 'rateLimits', kind: { type: 'rate-limits' }, use: 'server' },
];

function integerKeys(ranges: Readonly<Record<string, { default: number; min: number; max: number }>>, use: OptionUse): OptionKey[] {
  return Object.entries(ranges).map(([key, range]) => ({ key, kind: { type: 'integer', min: range.min, max: range.max }, use, default: range.default }));
}

/** In the order `hybridwire config --print` shows them. */
export const OPTION_KEYS: readonly OptionKey[] = [
  ...ADDRESS_KEYS,
  ...integerKeys(LIMIT_RANGES, 'both'),
  ...COMPRESSION_KEYS,
  ...integerKeys(STREAM_RANGES, 'both'),
  ...integerKeys(SERVER_RANGES, 'server'),
  ...integerKeys(PUBSUB_RANGES, 'server'),
  ...OTHER_SERVER_KEYS,
  ...RATE_LIMIT_KEYS,
  ...CLUSTER_KEYS,
  ...PERSISTENCE_KEYS,
  ...integerKeys(CLUSTER_RANGES, 'server'),
  ...OTHER_CLIENT_KEYS.slice(0, 2),
  ...integerKeys(CLIENT_RANGES, 'client'),
  ...OTHER_CLIENT_KEYS.slice(2),
];

const BY_KEY = new Map(OPTION_KEYS.map((entry) => [entry.key, entry]));

export function optionKey(key: string): OptionKey | undefined {
  return BY_KEY.get(key);
}

/** `reconnect.maxAttempts` → `HYBRIDWIRE_RECONNECT_MAX_ATTEMPTS`. */
export function variableName(key: string): string {
  return `HYBRIDWIRE_${key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

const BY_VARIABLE = new Map(OPTION_KEYS.map((entry) => [variableName(entry.key), entry]));

export function optionForVariable(name: string): OptionKey | undefined {
  return BY_VARIABLE.get(name);
}

/**
 * HYBRIDWIRE_ variables that are not options: switches of the UDP socket read by the addon, and
 * those of the benchmarks and packaging scripts. Any other HYBRIDWIRE_ variable is a mistake.
 */
export const NON_OPTION_VARIABLES: ReadonlySet<string> = new Set([
  'HYBRIDWIRE_UDP_NO_GSO',
  'HYBRIDWIRE_UDP_NO_GRO',
  'HYBRIDWIRE_UDP_LIBUV',
  'HYBRIDWIRE_DIST',
  'HYBRIDWIRE_PROBES',
  'HYBRIDWIRE_PREBUILD',
  // The addon to load instead of the built one (scripts/asan-tests.sh), and test and benchmark hooks.
  'HYBRIDWIRE_ADDON',
  'HYBRIDWIRE_ASAN_TIMEOUT',
  'HYBRIDWIRE_BENCH_CA',
  'HYBRIDWIRE_TEST_FAIL_RESTORE',
]);

/** What a value of this kind may be, for error messages. */
export function describeKind(kind: OptionKind): string {
  switch (kind.type) {
    case 'integer':
      return `an integer from ${kind.min} to ${kind.max}`;
    case 'port':
      return 'an integer from 0 to 65535';
    case 'port-or-false':
      return 'an integer from 0 to 65535, or false';
    case 'boolean':
      return 'true or false';
    case 'string':
      return kind.minLength === undefined ? 'a string' : `a string of ${kind.minLength} to ${kind.maxLength} characters`;
    case 'choice':
      return kind.values.map((value) => `"${value}"`).join(' or ');
    case 'number':
      return `a number from ${kind.min} to ${kind.max}`;
    case 'boolean-or-table':
      return `true, false, or a table of ${kind.fields.slice(0, -1).join(', ')} and ${kind.fields.at(-1)}`;
    case 'list':
      return `a list of ${kind.values.map((value) => `"${value}"`).join(', ')}`;
    case 'boolean-or-list':
      return `true, false, or a list of ${kind.values.map((value) => `"${value}"`).join(', ')}`;
    case 'table':
      return 'a table';
    case 'rate-limits':
      return 'a table of limits by message type or topic filter, or a list of tables with match';
  }
}

