// Envoy's access log filters, compiled once per config: which entries a logger writes.
import type * as model from '@meshlet/xds';
import { ConfigError } from '../errors.js';
import { type CompiledHeaderMatcher, compileHeaderMatchers } from '../matchers/header-matcher.js';
import type { MatcherConfigErrors } from '../types.js';
import type { LogEntry } from './format.js';

/** A compiled access log filter. */
export interface LogFilter {
  passes(entry: LogEntry): boolean;
}

class Comparison implements LogFilter {
  private readonly op: 'EQ' | 'GE' | 'LE';
  private readonly target: number;
  private readonly of: 'status' | 'duration';

  constructor(c: model.AccessLogComparison, of: 'status' | 'duration') {
    this.op = c.op;
    this.target = c.value;
    this.of = of;
  }

  passes(entry: LogEntry): boolean {
    const v =
      this.of === 'status'
        ? (entry.ctx?.response?.status ?? 0)
        : Math.round(entry.info.endTime - entry.info.startTime);
    return this.op === 'EQ' ? v === this.target : this.op === 'GE' ? v >= this.target : v <= this.target;
  }
}

class ResponseFlags implements LogFilter {
  private readonly flags: readonly string[];

  constructor(flags: readonly string[]) {
    this.flags = flags;
  }

  passes(entry: LogEntry): boolean {
    const set = entry.info.responseFlags as ReadonlySet<string>;
    if (this.flags.length === 0) return set.size > 0;
    for (const f of this.flags) if (set.has(f)) return true;
    return false;
  }
}

/**
 * Not an active health check. meshlet has no health check filter marking streams, so a request
 * counts as one when it carries the user agent Envoy's (and meshlet's) HTTP health checks send.
 */
class NotHealthCheck implements LogFilter {
  passes(entry: LogEntry): boolean {
    return entry.ctx?.request.headers['user-agent'] !== 'Envoy/HC';
  }
}

class Header implements LogFilter {
  private readonly matcher: CompiledHeaderMatcher;

  constructor(matcher: CompiledHeaderMatcher) {
    this.matcher = matcher;
  }

  passes(entry: LogEntry): boolean {
    // A TCP connection has no headers: a header filter never passes it.
    return entry.ctx !== null && this.matcher.matches(entry.ctx.request);
  }
}

class All implements LogFilter {
  private readonly filters: readonly LogFilter[];
  private readonly and: boolean;

  constructor(filters: readonly LogFilter[], and: boolean) {
    this.filters = filters;
    this.and = and;
  }

  passes(entry: LogEntry): boolean {
    for (const f of this.filters) if (f.passes(entry) !== this.and) return !this.and;
    return this.and;
  }
}

/** Compiles a model filter; a bad header matcher throws a ConfigError naming `where`. */
export function compileFilter(filter: model.AccessLogFilter, where: string): LogFilter {
  switch (filter.kind) {
    case 'status_code':
      return new Comparison(filter.comparison, 'status');
    case 'duration':
      return new Comparison(filter.comparison, 'duration');
    case 'response_flag':
      return new ResponseFlags(filter.flags);
    case 'not_health_check':
      return new NotHealthCheck();
    case 'header': {
      const errors: MatcherConfigErrors = {
        error: (field, message) => new ConfigError(`${where}.${field}: ${message}`),
      };
      const [matcher] = compileHeaderMatchers(errors, [filter.header], 'header_filter.header');
      return new Header(matcher as CompiledHeaderMatcher);
    }
    case 'and':
    case 'or':
      return new All(
        filter.filters.map((f, i) =>
          compileFilter(f, `${where}.${filter.kind}_filter.filters[${String(i)}]`),
        ),
        filter.kind === 'and',
      );
  }
}
