import { MeshletError } from '@meshlet/errors';

/** @internal A value as an error message shows it: strings quoted, objects by their type. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

/**
 * {@link CircuitBreaker.execute} was refused without calling the function: the breaker is open
 * (or forced open), or half-open with every trial call already admitted. `reason` says which.
 * The hot-path form, `tryAcquire()`, returns a rejection value instead of throwing.
 */
export class BreakerOpenError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_BREAKER_OPEN';

  /** Why the call was refused: `'open'`, `'forced-open'` or `'half-open-busy'`. */
  readonly reason: string;

  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/**
 * A call made through {@link CircuitBreaker.execute} did not settle within the breaker's
 * `timeoutMs`. The call's signal was aborted with this error, and the breaker counted a failure.
 */
export class BreakerTimeoutError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_BREAKER_TIMEOUT';
}
