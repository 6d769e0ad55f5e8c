// Validation helpers shared by the built-in filters' `configure`: every failure is a ConfigError
// that names the filter instance and the field, e.g. `fault: abort.httpStatus must be ...`.
import { ConfigError } from '@meshlet/errors';
import type { FractionalPercent } from '@meshlet/xds';
import type { FilterEnvironment } from '../types.js';

/** Reads and checks one filter config, naming `env.filterName` and the field in every error. */
export class ConfigReader {
  readonly filterName: string;

  constructor(env: Pick<FilterEnvironment, 'filterName'>) {
    this.filterName = env.filterName;
  }

  /** A ConfigError for `field`. */
  error(field: string, message: string, cause?: unknown): ConfigError {
    const text = field === '' ? `${this.filterName}: ${message}` : `${this.filterName}: ${field} ${message}`;
    return new ConfigError(text, cause === undefined ? undefined : { cause });
  }

  /** The config as an object whose `type` is `type`. */
  typed(config: unknown, type: string): Record<string, unknown> {
    const o = this.object(config, '');
    if (o.type !== type) {
      throw this.error('type', `must be '${type}' for this filter, got ${describe(o.type)}`);
    }
    return o;
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.error(field, `must be an object, got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  list(value: unknown, field: string): readonly unknown[] {
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw this.error(field, `must be a list, got ${describe(value)}`);
    return value as readonly unknown[];
  }

  string(value: unknown, field: string, fallback?: string): string {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string') throw this.error(field, `must be a string, got ${describe(value)}`);
    return value;
  }

  boolean(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') throw this.error(field, `must be a boolean, got ${describe(value)}`);
    return value;
  }

  integer(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.error(field, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
    }
    return value;
  }

  /** A FractionalPercent as `numerator` and `denominator` (100, 10 000 or 1 000 000). */
  percent(value: unknown, field: string): FractionalPercent {
    const o = this.object(value, field);
    const numerator = this.integer(o.numerator, `${field}.numerator`, 0, 2 ** 32 - 1);
    const denominator = o.denominator ?? 100;
    if (denominator !== 100 && denominator !== 10_000 && denominator !== 1_000_000) {
      throw this.error(`${field}.denominator`, `must be 100, 10000 or 1000000, got ${describe(denominator)}`);
    }
    return { numerator, denominator };
  }
}

/** Whether a draw from `random` (uniform in [0, 1)) falls within `numerator / denominator`, as Envoy's `featureEnabled`. */
export function percentHit(random: () => number, numerator: number, denominator: number): boolean {
  if (numerator >= denominator) return true;
  if (numerator <= 0) return false;
  return random() * denominator < numerator;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return typeof value === 'undefined' ? 'nothing' : `a ${typeof value}`;
}
