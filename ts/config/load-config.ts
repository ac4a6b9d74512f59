/**
 * Configuration from a TOML file and HYBRIDWIRE_ environment variables, turned into the options
 * object createServer() and connect() take. This is the one place that reads files of settings
 * and the environment. Precedence: command-line flags (given by the caller), then variables, then
 * the file, then defaults.
 */
import fs from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { ConfigError, OptionError } from '../errors.js';
import { resolveLimits } from '../api/limits.js';
import { serverQos } from '../qos/qos-settings.js';
import type { ServerOptions } from '../api/server.js';
import type { ClientOptions } from '../api/client.js';
import { NON_OPTION_VARIABLES, OPTION_KEYS, describeKind, optionForVariable, optionKey, variableName, type OptionKind } from './option-keys.js';
import { keyLines, lineOf } from './toml-lines.js';

/** What a configuration can set: the options of createServer() and of connect(). */
export type ConfigOptions = Omit<ServerOptions, 'logger' | 'metrics'> & Omit<Partial<ClientOptions>, 'logger'>;

/** One option's value and where it came from: `FILE:LINE`, a variable's name, a flag (`--tcp-port`) or `default`. */
export interface ConfigSetting {
  key: string;
  value: unknown;
  source: string;
}

export interface Configuration {
  options: ConfigOptions;
  /** The options that were set (by a flag, a variable, the file or a caller's default), each from its winning source. */
  settings: ConfigSetting[];
}

export interface ConfigLayers {
  /** Values of command-line flags, above everything; `source` names the flag. */
  flags?: ConfigSetting[];
  /** A program's own defaults (`hybridwire serve` listens on port 5000), below everything. */
  defaults?: ConfigSetting[];
}

/**
 * Reads the options in the TOML file at `path` (if any) and the HYBRIDWIRE_ variables of `env`.
 * Unknown keys, values of the wrong type and values out of range throw a ConfigError
 * (`HW_ERR_CONFIG`) naming the key, where its value came from and what it may be.
 */
export function loadConfig(path?: string, env: NodeJS.ProcessEnv = process.env): ConfigOptions {
  return readConfig(path, env).options;
}

/** loadConfig() with flags and defaults around it, and the source of every value. */
export function readConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env, layers: ConfigLayers = {}): Configuration {
  const winners = new Map<string, ConfigSetting>();
  // Lowest first: each layer replaces what the ones below it set.
  for (const setting of [...(layers.defaults ?? []), ...(path === undefined ? [] : fileSettings(path)), ...envSettings(env), ...(layers.flags ?? [])]) {
    const known = optionKey(setting.key);
    if (known === undefined) throw unknownKey(setting.key, setting.source);
    checkValue(setting, known.kind);
    winners.set(setting.key, setting);
  }
  const settings = OPTION_KEYS.flatMap((entry) => winners.get(entry.key) ?? []);
  const options = assemble(settings);
  checkTogether(options, settings);
  return { options, settings };
}

function fileSettings(path: string): ConfigSetting[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the configuration file ${path}: ${(error as Error).message}`, { source: path, cause: error });
  }
  let document: Record<string, unknown>;
  try {
    document = parse(text);
  } catch (error) {
    if (error instanceof TomlError) {
      throw new ConfigError(`${path}:${error.line}:${error.column}: not valid TOML: ${error.message.split('\n')[0]}`, { source: `${path}:${error.line}`, cause: error });
    }
    throw error;
  }
  const lines = keyLines(text);
  const settings: ConfigSetting[] = [];
  const walk = (table: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(table)) {
      const key = prefix + name;
      const source = `${path}:${lineOf(lines, key) ?? '?'}`;
      const known = optionKey(key);
      if (known === undefined && isTable(value) && OPTION_KEYS.some((entry) => entry.key.startsWith(`${key}.`))) {
        // A table of an object option's fields ([cluster]: cluster.nats, ...).
        walk(value, `${key}.`);
        continue;
      }
      if (known === undefined) throw unknownKey(key, source);
      if (known.kind.type === 'boolean-or-table' && isTable(value)) {
        // A table turns the option on: its keys are options of their own (reconnect.maxAttempts).
        settings.push({ key, value: true, source });
        walk(value, `${key}.`);
      } else if (known.kind.type === 'table' && isTable(value)) {
        walk(value, `${key}.`);
      } else {
        settings.push({ key, value, source });
      }
    }
  };
  walk(document, '');
  return settings;
}

function envSettings(env: NodeJS.ProcessEnv): ConfigSetting[] {
  const settings: ConfigSetting[] = [];
  for (const [name, text] of Object.entries(env)) {
    if (!name.startsWith('HYBRIDWIRE_') || text === undefined || NON_OPTION_VARIABLES.has(name)) continue;
    const known = optionForVariable(name);
    if (known === undefined) throw unknownKey(name, name);
    settings.push({ key: known.key, value: fromText(text, known.kind), source: name });
  }
  // Variables are applied in the order of the options, whatever the order of the environment.
  return settings.sort((a, b) => OPTION_KEYS.findIndex((entry) => entry.key === a.key) - OPTION_KEYS.findIndex((entry) => entry.key === b.key));
}

/** A variable's text as a value of `kind`; text that is not one is kept, for checkValue to refuse. */
function fromText(text: string, kind: OptionKind): unknown {
  const trimmed = text.trim();
  switch (kind.type) {
    case 'integer':
    case 'port':
      return /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : text;
    case 'port-or-false':
      return trimmed === 'false' ? false : /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : text;
    case 'number':
      return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : text;
    case 'boolean':
    case 'boolean-or-table':
      return trimmed === 'true' ? true : trimmed === 'false' ? false : text;
    case 'boolean-or-list':
      // A list in a variable is its names separated by commas: HYBRIDWIRE_BUILTINS=ping,echo.
      return trimmed === 'true' ? true : trimmed === 'false' ? false : trimmed === '' ? [] : trimmed.split(',').map((name) => name.trim());
    case 'list':
      return trimmed === '' ? [] : trimmed.split(',').map((name) => name.trim());
    case 'string':
    case 'choice':
    case 'table':
      return text;
    case 'rate-limits':
      // A variable gives the table as JSON: HYBRIDWIRE_RATE_LIMITS='{"chat":{"messagesPerSecond":10}}'.
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function valueOk(value: unknown, kind: OptionKind): boolean {
  switch (kind.type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && value >= kind.min && value <= kind.max;
    case 'port':
      return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535;
    case 'port-or-false':
      return value === false || valueOk(value, { type: 'port' });
    case 'boolean':
    case 'boolean-or-table':
      return typeof value === 'boolean';
    case 'boolean-or-list':
      return typeof value === 'boolean' || valueOk(value, { type: 'list', values: kind.values });
    case 'list':
      return Array.isArray(value) && value.length > 0 && value.every((name) => typeof name === 'string' && kind.values.includes(name));
    case 'string':
      return typeof value === 'string' && value.length >= (kind.minLength ?? 0) && value.length <= (kind.maxLength ?? Infinity);
    case 'choice':
      return typeof value === 'string' && kind.values.includes(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) && value >= kind.min && value <= kind.max;
    case 'table':
      return false;
    case 'rate-limits':
      // Its entries are checked with the server's own validation (checkTogether).
      return isTable(value) || Array.isArray(value);
  }
}

function checkValue(setting: ConfigSetting, kind: OptionKind): void {
  if (valueOk(setting.value, kind)) return;
  throw invalid(setting, describeKind(kind));
}

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return String(value);
  if (isTable(value)) return 'a table';
  return JSON.stringify(value) ?? String(value);
}

/** `hw.toml:3`, `variable HYBRIDWIRE_X`, `flag --x` or `default`. */
function describeSource(source: string): string {
  if (source.startsWith('HYBRIDWIRE_')) return `variable ${source}`;
  if (source.startsWith('--')) return `flag ${source}`;
  return source;
}

function invalid(setting: ConfigSetting, allowed: string, why?: string): ConfigError {
  // A secret is not repeated in messages.
  const value = optionKey(setting.key)?.secret && typeof setting.value === 'string' ? `${setting.value.length} characters` : shown(setting.value);
  const message = `option ${setting.key} (${describeSource(setting.source)}) must be ${allowed}, got ${value}${why ? `: ${why}` : ''}`;
  return new ConfigError(message, { key: setting.key, source: setting.source, allowed });
}

function unknownKey(key: string, source: string): ConfigError {
  const isVariable = source === key;
  const names = isVariable ? OPTION_KEYS.map((entry) => variableName(entry.key)) : OPTION_KEYS.map((entry) => entry.key);
  const near = closest(key, names);
  const what = isVariable ? `unknown variable ${key}: it names no option` : `unknown option ${key} (${describeSource(source)})`;
  return new ConfigError(`${what}${near ? `; did you mean ${near}?` : ''}`, { key, source, allowed: isVariable ? 'HYBRIDWIRE_ and an option name in upper snake case' : 'an option name' });
}

/** The name at the smallest edit distance from `name`, if it is close enough to be a typo. */
function closest(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The flat settings as an options object: `reconnect.*` become the fields of `reconnect`, and
 * `compression.*` those of `compression` (`compression = true` alone is `{}`, its defaults).
 */
function assemble(settings: readonly ConfigSetting[]): ConfigOptions {
  const options: Record<string, unknown> = {};
  const tables: Record<string, { fields: Record<string, unknown>; setting?: ConfigSetting }> = { reconnect: { fields: {} }, compression: { fields: {} }, rateLimit: { fields: {} }, cluster: { fields: {} }, persistence: { fields: {} } };
  for (const setting of settings) {
    const [name, field] = setting.key.split('.', 2) as [string, string | undefined];
    const table = tables[name];
    if (table === undefined) options[setting.key] = setting.value;
    else if (field === undefined) table.setting = setting;
    else table.fields[field] = setting.value;
  }
  for (const [name, { fields, setting }] of Object.entries(tables)) {
    if (Object.keys(fields).length > 0) {
      if (setting?.value === false) throw invalid(setting, `true when ${name}.* options are set`, `${name} is off while some of its options are given`);
      options[name] = fields;
    } else if (setting !== undefined) {
      options[name] = name === 'compression' && setting.value === true ? {} : setting.value;
    }
  }
  return options as ConfigOptions;
}

/** Rules between options (highWaterMark ≤ maxQueueBytes, ...), checked by the library's own validation. */
function checkTogether(options: ConfigOptions, settings: readonly ConfigSetting[]): void {
  try {
    resolveLimits(options);
    serverQos(options);
  } catch (error) {
    if (!(error instanceof OptionError)) throw error;
    // The option named at fault, or else the one that was set of those the rule names.
    const setting = settings.find((candidate) => candidate.key === error.option) ?? settings.find((candidate) => error.message.includes(`${candidate.key} (`));
    const reason = error.message.replace(/^option /, '');
    if (setting === undefined) throw new ConfigError(`configuration: ${reason}`, { key: error.option, allowed: reason, cause: error });
    throw new ConfigError(`option ${setting.key} (${describeSource(setting.source)}): ${reason}`, { key: setting.key, source: setting.source, allowed: reason, cause: error });
  }
}
