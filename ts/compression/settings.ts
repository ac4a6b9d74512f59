/**
 * The `compression` option of createServer() and connect(), checked once, and the negotiation of
 * a session's algorithm from both sides' lists (docs/PROTOCOL.md, section 12).
 */
import { OptionError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { ALGORITHM_NAMES, availableAlgorithms, codecOf, type AlgorithmName } from './algorithms.js';
import { newCompressionCounters, type CompressionCounters } from './compression-stats.js';

export interface CompressionOptions {
  /**
   * The algorithm, or algorithms in order of preference, this side offers and accepts: `'lz4'`,
   * `'zstd'`, `'gzip'`, `'deflate'`, `'brotli'`. The session uses one both sides have. Default:
   * every algorithm this process can run, LZ4 first.
   */
  algorithm?: AlgorithmName | AlgorithmName[];
  /**
   * Compression level: one number (brought into the range of whichever algorithm the session
   * uses) or one per algorithm (each checked against its range). Defaults: zstd 3, gzip and
   * deflate 6, brotli 4; LZ4 has one level.
   */
  level?: number | Partial<Record<AlgorithmName, number>>;
  /** Messages whose body has at least this many bytes are sent compressed when that shrinks them; 0 never. Default 1024. */
  threshold?: number;
}

export interface CompressionSettings {
  /** What this side offers and accepts, in order of preference. */
  readonly algorithms: readonly AlgorithmName[];
  /** The application named the algorithms: a server then prefers its own order to the client's. */
  readonly explicit: boolean;
  readonly levels: Readonly<Record<AlgorithmName, number>>;
  /** Bodies of at least this many bytes go compressed; 0: none (this side still accepts compressed messages). */
  readonly threshold: number;
  /** Shared by every session of the server or client these settings belong to. */
  readonly counters: CompressionCounters;
}

/** The largest threshold (the compressThreshold option's range). */
const MAX_THRESHOLD = 2 ** 32;
const DEFAULT_THRESHOLD = 1024;

function checkAlgorithms(value: unknown): AlgorithmName[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) {
    throw new OptionError(`option compression.algorithm must be one of ${ALGORITHM_NAMES.join(', ')} or a non-empty list of them`, 'compression.algorithm');
  }
  const available = availableAlgorithms();
  for (const name of list) {
    if (!ALGORITHM_NAMES.includes(name as AlgorithmName)) {
      throw new OptionError(`option compression.algorithm: '${String(name)}' is not one of ${ALGORITHM_NAMES.join(', ')}`, 'compression.algorithm');
    }
    if (!available.includes(name as AlgorithmName)) {
      throw new OptionError(`option compression.algorithm: '${name}' needs the optional package zstd-napi, which did not load`, 'compression.algorithm');
    }
  }
  return [...new Set(list as AlgorithmName[])];
}

function checkLevels(value: unknown): Record<AlgorithmName, number> {
  const levels = {} as Record<AlgorithmName, number>;
  for (const name of ALGORITHM_NAMES) {
    const range = codecOf(name)?.levels ?? { min: 1, max: 22, default: 3 };
    levels[name] = range.default;
    if (typeof value === 'number') {
      checkInteger('compression.level', value, 0, 22);
      levels[name] = Math.min(Math.max(value, range.min), range.max);
    } else if (value !== undefined) {
      const given = (value as Record<string, unknown>)[name];
      if (given !== undefined) levels[name] = checkInteger(`compression.level.${name}`, given, range.min, range.max);
    }
  }
  if (typeof value === 'object' && value !== null) {
    const unknown = Object.keys(value).find((key) => !ALGORITHM_NAMES.includes(key as AlgorithmName));
    if (unknown !== undefined) throw new OptionError(`option compression.level: '${unknown}' is not one of ${ALGORITHM_NAMES.join(', ')}`, 'compression.level');
  } else if (value !== undefined && typeof value !== 'number') {
    throw new OptionError('option compression.level must be an integer or an object of integers by algorithm', 'compression.level');
  }
  return levels;
}

/**
 * The settings from the `compression` option (false: offer none) and the older
 * `compressThreshold`, its alias for the threshold (both given, they must agree).
 */
export function resolveCompression(option: CompressionOptions | false | undefined, compressThreshold: number | undefined): CompressionSettings {
  const counters = newCompressionCounters();
  if (option === false) {
    return { algorithms: [], explicit: true, levels: checkLevels(undefined), threshold: 0, counters };
  }
  if (option !== undefined && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw new OptionError('option compression must be an object ({ algorithm, level, threshold }) or false', 'compression');
  }
  if (compressThreshold !== undefined) checkInteger('compressThreshold', compressThreshold, 0, MAX_THRESHOLD);
  let threshold = compressThreshold ?? (option === undefined ? 0 : DEFAULT_THRESHOLD);
  if (option?.threshold !== undefined) {
    threshold = checkInteger('compression.threshold', option.threshold, 0, MAX_THRESHOLD);
    // compressThreshold 0 is its default, which a printed configuration repeats: only another value conflicts.
    if (compressThreshold !== undefined && compressThreshold !== 0 && compressThreshold !== threshold) {
      throw new OptionError(`option compressThreshold (${compressThreshold}) is an alias of compression.threshold (${threshold}): give one, or equal values`, 'compressThreshold');
    }
  }
  const explicit = option?.algorithm !== undefined;
  return {
    algorithms: explicit ? checkAlgorithms(option.algorithm) : availableAlgorithms(),
    explicit,
    levels: checkLevels(option?.level),
    threshold,
    counters,
  };
}

/**
 * The server's choice among the algorithms a client offered, or undefined for none. REQUIRED: one
 * the client offered and the server accepts. *(local)* A server whose application named its
 * algorithms takes the first of its own list the client offered; otherwise the first of the
 * client's list it can run.
 */
export function chooseAlgorithm(offered: readonly string[], settings: CompressionSettings): AlgorithmName | undefined {
  if (settings.explicit) return settings.algorithms.find((name) => offered.includes(name));
  return offered.find((name): name is AlgorithmName => settings.algorithms.includes(name as AlgorithmName));
}
