import { ConfigError, InvalidArgumentError } from '@meshlet/errors';

/** Throws a ConfigError unless `value` is an integer in [min, max]. */
export function integerOption(
  name: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Throws a ConfigError unless `value` is a finite number in [min, max]. */
export function numberOption(
  name: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_VALUE,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Throws an InvalidArgumentError unless `n` is a non-negative safe integer (a token count). */
export function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`the token count must be a non-negative integer, got ${String(n)}`);
  }
}

/** Throws a ConfigError unless `value` is a non-null object (options arrive from untyped config too). */
export function objectOption(name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null) throw new ConfigError(`${name} must be an object`);
}

/** Throws a ConfigError unless `value` is one of `allowed`. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
  }
  return value as T;
}
