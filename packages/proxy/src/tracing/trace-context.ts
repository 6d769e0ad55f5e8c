// W3C Trace Context (`traceparent`): parsing what a client sent, and new ids.
//
//   traceparent: 00-<trace id: 32 hex>-<parent span id: 16 hex>-<flags: 2 hex, 01 = sampled>
import { randomFillSync } from 'node:crypto';

/** A parsed, valid `traceparent`. */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly flags: number;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
// Version 00 is exactly 55 characters; a later version may append fields after a '-'.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses a `traceparent` header value; `null` when absent, repeated or malformed (then the proxy
 * starts a new trace, as the W3C spec asks).
 */
export function parseTraceParent(value: string | string[] | undefined): TraceParent | null {
  if (typeof value !== 'string' || value.length < 55 || value.length > 512) return null;
  const m = TRACEPARENT.exec(value);
  if (m === null) return null;
  const version = m[1] as string;
  if (version === 'ff' || (version === '00' && value.length !== 55)) return null;
  const traceId = m[2] as string;
  const spanId = m[3] as string;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, flags: parseInt(m[4] as string, 16) };
}

/** A version 00 `traceparent`. */
export function formatTraceParent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one syscall per 512 span ids.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

function take(bytes: number): number {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** A random, non-zero span id (16 hex). */
export function newSpanId(): string {
  for (;;) {
    const at = take(8);
    const id = pool.toString('hex', at, at + 8);
    if (id !== ZERO_SPAN) return id;
  }
}

/** A random, non-zero trace id (32 hex). */
export function newTraceId(): string {
  for (;;) {
    const at = take(16);
    const id = pool.toString('hex', at, at + 16);
    if (id !== ZERO_TRACE) return id;
  }
}
