// The access log observer factory: per filter chain, the chain's `access_log` entries compiled
// (format, filter, destination); per stream (HTTP, RPC) or per connection (TCP), a line.
import type { Scope } from '@meshlet/stats';
import type * as model from '@meshlet/xds';
import { ConfigError } from '../errors.js';
import type {
  ConnectionInfo,
  HttpContext,
  ObservedChain,
  ObserverFactory,
  StreamInfo,
  StreamObserver,
} from '../types.js';
import { type LogFilter, compileFilter } from './filter.js';
import { type LogEntry, type LogFormatter, compileFormat } from './format.js';
import {
  type AccessLogCounters,
  type AccessLogSink,
  AccessLogWriter,
  type LineOutput,
  ScopedAccessLogCounters,
  SinkOutput,
  StreamOutput,
  fileOutput,
} from './writer.js';

/** Options of a proxy's access logs (`ProxyOptions.accessLogs`). */
export interface AccessLogOptions {
  /** User sinks, named from config by a `meshlet.access_loggers.v1.Sink` logger's `sink`. */
  readonly sinks?: Readonly<Record<string, AccessLogSink>>;
  /** Lines each destination may hold while its writes are outstanding; beyond, lines are dropped. Default 10 000. */
  readonly maxQueuedLines?: number;
  /** How long `close()` waits for destinations to take what is queued. Default 1000 ms. */
  readonly closeTimeoutMs?: number;
}

const DEFAULT_MAX_QUEUED = 10_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 1000;

/** One logger of a chain, compiled. */
class CompiledAccessLog {
  readonly formatter: LogFormatter;
  readonly filter: LogFilter | null;
  readonly writer: AccessLogWriter;

  constructor(formatter: LogFormatter, filter: LogFilter | null, writer: AccessLogWriter) {
    this.formatter = formatter;
    this.filter = filter;
    this.writer = writer;
  }
}

/** Writes one line per stream (HTTP, RPC) or per connection (TCP) of one chain. */
class AccessLogObserver implements StreamObserver {
  private readonly logs: readonly CompiledAccessLog[];
  private readonly perConnection: boolean;
  private readonly manager: AccessLogs;
  // Formatting is synchronous: one entry object per chain, refilled per line.
  private readonly entry: LogEntry;

  constructor(logs: readonly CompiledAccessLog[], perConnection: boolean, manager: AccessLogs) {
    this.logs = logs;
    this.perConnection = perConnection;
    this.manager = manager;
    this.entry = {
      ctx: null,
      connection: null as unknown as ConnectionInfo,
      info: null as unknown as StreamInfo,
    };
  }

  connectionOpened(): void {
    // Lines are written when a stream or connection ends.
  }

  connectionClosed(connection: ConnectionInfo, info: StreamInfo): void {
    if (!this.perConnection) return;
    this.log(null, connection, info);
  }

  streamStarted(): void {
    // Lines are written when a stream ends.
  }

  streamEnded(ctx: HttpContext): void {
    if (this.perConnection) return;
    this.log(ctx, ctx.connection, ctx.info);
  }

  private log(ctx: HttpContext | null, connection: ConnectionInfo, info: StreamInfo): void {
    const entry = this.entry;
    entry.ctx = ctx;
    entry.connection = connection;
    entry.info = info;
    for (const log of this.logs) {
      try {
        if (log.filter !== null && !log.filter.passes(entry)) continue;
        log.writer.push(log.formatter.format(entry));
      } catch (error) {
        this.manager.failed(error);
      }
    }
    entry.ctx = null;
  }
}

/**
 * A proxy's access logs: an {@link ObserverFactory} for the chains whose terminal filter has
 * `access_log` entries, the destinations (one writer per file path, stdout, stderr, user sink,
 * kept across config versions) and their counters.
 */
export class AccessLogs implements ObserverFactory {
  /** Lines queued, written, dropped (slow destination) and failed, for every destination. */
  readonly counters: AccessLogCounters;
  private readonly writers = new Map<string, AccessLogWriter>();
  private readonly sinks: Readonly<Record<string, AccessLogSink>>;
  private readonly maxQueued: number;
  private readonly closeTimeoutMs: number;
  private readonly onError: (error: unknown) => void;

  /** `stats`: where the counters are recorded (`access_log.*`); plain numbers without. */
  constructor(options: AccessLogOptions, onError: (error: unknown) => void, stats: Scope | null = null) {
    this.counters =
      stats === null
        ? { queued: 0, written: 0, dropped: 0, flushes: 0, failed: 0 }
        : new ScopedAccessLogCounters(stats);
    this.sinks = options.sinks ?? {};
    this.maxQueued = options.maxQueuedLines ?? DEFAULT_MAX_QUEUED;
    this.closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    this.onError = onError;
  }

  forChain(chain: ObservedChain): StreamObserver | null {
    const logs = chain.filter.config.accessLog;
    if (logs === undefined || logs.length === 0) return null;
    const where = `listener "${chain.listenerName}" filter chain "${chain.chainName}" ${chain.filter.name}.access_log`;
    const compiled = logs.map((log, i) => {
      const at = `${where}[${String(i)}]`;
      return new CompiledAccessLog(
        compileFormat(log.format, `${at}.log_format`),
        log.filter === undefined ? null : compileFilter(log.filter, `${at}.filter`),
        this.writer(log.sink, at),
      );
    });
    return new AccessLogObserver(compiled, chain.kind === 'tcp', this);
  }

  /** Lines waiting in every destination's queue. */
  get queued(): number {
    let n = 0;
    for (const w of this.writers.values()) n += w.queued;
    return n;
  }

  /** Writes what is queued (waiting at most `closeTimeoutMs` for slow destinations) and closes files. */
  async close(): Promise<void> {
    const writers = [...this.writers.values()];
    this.writers.clear();
    await Promise.all(writers.map((w) => w.close(this.closeTimeoutMs)));
  }

  /** A formatter or filter failed on a line: counted and reported, never thrown. */
  failed(error: unknown): void {
    this.counters.failed++;
    this.onError(error);
  }

  private writer(sink: model.AccessLogSinkRef, where: string): AccessLogWriter {
    const key =
      sink.kind === 'file' ? `file:${sink.path}` : sink.kind === 'sink' ? `sink:${sink.name}` : sink.kind;
    let writer = this.writers.get(key);
    if (writer !== undefined) return writer;
    let output: LineOutput;
    switch (sink.kind) {
      case 'file':
        output = fileOutput(sink.path);
        break;
      case 'stdout':
        output = new StreamOutput(process.stdout, false);
        break;
      case 'stderr':
        output = new StreamOutput(process.stderr, false);
        break;
      case 'sink': {
        const fn = Object.hasOwn(this.sinks, sink.name) ? this.sinks[sink.name] : undefined;
        if (fn === undefined)
          throw new ConfigError(
            `${where}: no access log sink "${sink.name}" (ProxyOptions.accessLogs.sinks has ${Object.keys(this.sinks).join(', ') || 'none'})`,
          );
        output = new SinkOutput(fn);
        break;
      }
    }
    writer = new AccessLogWriter(output, this.counters, this.maxQueued, this.onError);
    this.writers.set(key, writer);
    return writer;
  }
}
