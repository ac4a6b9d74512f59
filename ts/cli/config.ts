/**
 * `hybridwire config --print [--config FILE]`: the configuration `hybridwire serve` would run with,
 * as TOML (so it can be saved and edited), each value followed by where it came from.
 */
import { readConfig, type ConfigLayers, type ConfigSetting } from '../config/load-config.js';
import { OPTION_KEYS } from '../config/option-keys.js';

/** Values are written as TOML writes them: strings quoted, numbers and booleans bare. */
function tomlValue(value: unknown): string {
  // Strings and lists of strings (builtins) are written as TOML writes them, which is JSON's form.
  return typeof value === 'string' || Array.isArray(value) ? JSON.stringify(value) : String(value);
}

const COLUMN = 36;

function entryLine(name: string, value: unknown, source: string): string {
  const assignment = `${name} = ${tomlValue(value)}`;
  return `${assignment.padEnd(COLUMN)} # ${source}`;
}

/** The effective configuration as lines of TOML with the source of each value in a comment. */
export function describeConfig(settings: readonly ConfigSetting[]): string[] {
  const set = new Map(settings.map((setting) => [setting.key, setting]));
  const top: string[] = [];
  const reconnect: string[] = [];
  for (const entry of OPTION_KEYS) {
    const setting = set.get(entry.key);
    // A server's configuration: options only clients take are shown when they were set.
    if (setting === undefined && entry.use === 'client') continue;
    const inTable = entry.key.startsWith('reconnect.');
    const name = inTable ? entry.key.slice('reconnect.'.length) : entry.key;
    const lines = inTable ? reconnect : top;
    if (setting !== undefined && entry.secret) lines.push(`# ${name} is set (${setting.source}); not shown`);
    else if (setting !== undefined) lines.push(entryLine(name, setting.value, setting.source));
    else if (entry.default !== undefined) lines.push(entryLine(name, entry.default, 'default'));
    else lines.push(`# ${name} is not set`);
  }
  // Once there is a [reconnect] table, `reconnect = true` is what it says already.
  const table = reconnect.length > 0 ? ['', '[reconnect]', ...reconnect] : [];
  return [...(table.length > 0 ? top.filter((line) => !line.startsWith('reconnect ')) : top), ...table];
}

export function printConfig(path: string | undefined, layers: ConfigLayers): number {
  const { settings } = readConfig(path, undefined, layers);
  const header = '# The configuration of hybridwire serve: each value, then where it came from\n# (FILE:LINE, a HYBRIDWIRE_ variable, a flag, or the default).';
  process.stdout.write(`${header}\n${describeConfig(settings).join('\n')}\n`);
  return 0;
}
