/**
 * `hybridwire config --print [--config FILE]`: the configuration `hybridwire serve` would run with,
 * as TOML (so it can be saved and edited), each value followed by where it came from.
 */
import { readConfig, type ConfigLayers, type ConfigSetting } from '../config/load-config.js';
import { OPTION_KEYS } from '../config/option-keys.js';

/** Values are written as TOML writes them: strings quoted, numbers and booleans bare, tables inline. */
function tomlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    // Keys that are not bare TOML keys (a topic filter such as sensors/#) are quoted.
    const entries = Object.entries(value).map(([key, entry]) => `${/^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key)} = ${tomlValue(entry)}`);
    return `{ ${entries.join(', ')} }`;
  }
  // Strings are written as TOML writes them, which is JSON's form.
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Options written as a table of their own: their keys start with `NAME.`. */
const TABLES = ['reconnect', 'rateLimit'];

const COLUMN = 36;

function entryLine(name: string, value: unknown, source: string): string {
  const assignment = `${name} = ${tomlValue(value)}`;
  return `${assignment.padEnd(COLUMN)} # ${source}`;
}

/** The effective configuration as lines of TOML with the source of each value in a comment. */
export function describeConfig(settings: readonly ConfigSetting[]): string[] {
  const set = new Map(settings.map((setting) => [setting.key, setting]));
  const top: string[] = [];
  const tables = new Map<string, string[]>(TABLES.map((table) => [table, []]));
  for (const entry of OPTION_KEYS) {
    const setting = set.get(entry.key);
    // A server's configuration: options only clients take are shown when they were set.
    if (setting === undefined && entry.use === 'client') continue;
    // A table with nothing of its own (rateLimit) is its keys.
    if (entry.kind.type === 'table') continue;
    const table = TABLES.find((name) => entry.key.startsWith(`${name}.`));
    const name = table === undefined ? entry.key : entry.key.slice(table.length + 1);
    const lines = table === undefined ? top : tables.get(table)!;
    if (setting !== undefined && entry.secret) lines.push(`# ${name} is set (${setting.source}); not shown`);
    else if (setting !== undefined) lines.push(entryLine(name, setting.value, setting.source));
    else if (entry.default !== undefined) lines.push(entryLine(name, entry.default, 'default'));
    else lines.push(`# ${name} is not set`);
  }
  // Once there is a [reconnect] table, `reconnect = true` is what it says already.
  const reconnect = tables.get('reconnect')!;
  const tail = [...tables].flatMap(([name, lines]) => (lines.length > 0 ? ['', `[${name}]`, ...lines] : []));
  return [...(reconnect.length > 0 ? top.filter((line) => !line.startsWith('reconnect ')) : top), ...tail];
}

export function printConfig(path: string | undefined, layers: ConfigLayers): number {
  const { settings } = readConfig(path, undefined, layers);
  const header = '# The configuration of hybridwire serve: each value, then where it came from\n# (FILE:LINE, a HYBRIDWIRE_ variable, a flag, or the default).';
  process.stdout.write(`${header}\n${describeConfig(settings).join('\n')}\n`);
  return 0;
}
