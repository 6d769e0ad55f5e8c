// A small leveled logger with named components, Envoy-style: each logger (`admin`, `config`...)
// has its own level, changed at run time through the admin's `/logging`. A record below its
// logger's level costs one comparison; nothing is formatted for it.
import { ConfigError } from '@meshlet/errors';

/** Envoy's log levels, most verbose first (`off` silences a logger). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;

/** A log level. `warn` is accepted as an alias of `warning` where levels are parsed. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The proxy's loggers: admin actions, config updates, health checks, listeners, errors, upstream events. */
export const LOGGER_NAMES = ['admin', 'config', 'hc', 'listener', 'main', 'upstream'] as const;

/** One log record as a sink receives it. */
export interface LogRecord {
  /** Wall-clock time, ms since the epoch. */
  readonly time: number;
  readonly logger: string;
  readonly level: LogLevel;
  readonly message: string;
}

/** Where records go. The default writes one line per record to stderr. */
export type LogSink = (record: LogRecord) => void;

/** Options of {@link Logger}. */
export interface LoggerOptions {
  /** Level of every logger at start. Default `info`. */
  readonly level?: LogLevel;
  /** Default: one line per record on stderr, `[time][level][logger] message`. */
  readonly sink?: LogSink;
  /** Wall-clock ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Logger names. Default {@link LOGGER_NAMES}. */
  readonly names?: readonly string[];
}

const RANK: Readonly<Record<LogLevel, number>> = {
  trace: 0,
  debug: 1,
  info: 2,
  warning: 3,
  error: 4,
  critical: 5,
  off: 6,
};

/** Parses a level name (`warn` → `warning`); `undefined` when it is none. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const lower = text.toLowerCase();
  if (lower === 'warn') return 'warning';
  return (LOG_LEVELS as readonly string[]).includes(lower) ? (lower as LogLevel) : undefined;
}

function stderrSink(record: LogRecord): void {
  process.stderr.write(
    `[${new Date(record.time).toISOString()}][${record.level}][${record.logger}] ${record.message}\n`,
  );
}

/**
 * Named loggers with a level each.
 *
 * @example
 * ```ts
 * const logger = new Logger({ level: 'info' });
 * logger.log('config', 'info', 'config version 2 in effect');
 * logger.setLevel('upstream', 'debug');
 * ```
 */
export class Logger {
  readonly #levels = new Map<string, number>();
  readonly #sink: LogSink;
  readonly #now: () => number;

  constructor(options: LoggerOptions = {}) {
    const level = options.level ?? 'info';
    if (!(level in RANK)) throw new ConfigError(`logger: level must be one of ${LOG_LEVELS.join(', ')}`);
    if (options.sink !== undefined && typeof options.sink !== 'function') {
      throw new ConfigError('logger: sink must be a function');
    }
    this.#sink = options.sink ?? stderrSink;
    this.#now = options.now ?? Date.now;
    for (const name of options.names ?? LOGGER_NAMES) this.#levels.set(name, RANK[level]);
  }

  /** Whether `logger` logs records of `level`. */
  enabled(logger: string, level: LogLevel): boolean {
    const at = this.#levels.get(logger);
    return at !== undefined && level !== 'off' && RANK[level] >= at;
  }

  /** Logs `message` through `logger` if its level allows. Unknown loggers log nothing. */
  log(logger: string, level: LogLevel, message: string): void {
    if (!this.enabled(logger, level)) return;
    try {
      this.#sink({ time: this.#now(), logger, level, message });
    } catch {
      // A failing sink must not take the caller (the data plane, the admin) down with it.
    }
  }

  /** Each logger and its level, sorted by name. */
  levels(): [name: string, level: LogLevel][] {
    return [...this.#levels]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, rank]) => [name, LOG_LEVELS[rank] ?? 'off']);
  }

  /** Whether a logger of this name exists. */
  has(logger: string): boolean {
    return this.#levels.has(logger);
  }

  /** Sets one logger's level; `false` when there is no such logger. */
  setLevel(logger: string, level: LogLevel): boolean {
    if (!this.#levels.has(logger)) return false;
    this.#levels.set(logger, RANK[level]);
    return true;
  }

  /** Sets every logger's level. */
  setAll(level: LogLevel): void {
    for (const name of this.#levels.keys()) this.#levels.set(name, RANK[level]);
  }
}
