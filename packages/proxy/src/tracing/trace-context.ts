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

/** Trace context a client sent in Zipkin's B3 headers, as a parent. */
export interface B3Parent extends TraceParent {
  /** The trace id as sent (16 or 32 hex): B3 answers in the same width. */
  readonly traceIdAsSent: string;
  /** The single `b3` header was used (else the `x-b3-*` ones). */
  readonly single: boolean;
  /** The client decided sampling (`1`/`0`, `d` debug); `false`: the proxy decides. */
  readonly decided: boolean;
}

const B3_TRACE = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const B3_SPAN = /^[0-9a-f]{16}$/;

function b3Sampled(value: string | undefined): boolean | null {
  if (value === '1' || value === 'true' || value === 'd') return true;
  if (value === '0' || value === 'false') return false;
  return null;
}

function b3Parent(
  traceId: string,
  spanId: string,
  sampled: boolean | null,
  single: boolean,
): B3Parent | null {
  if (!B3_TRACE.test(traceId) || !B3_SPAN.test(spanId)) return null;
  const wide = traceId.length === 16 ? `0000000000000000${traceId}` : traceId;
  if (wide === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return {
    traceId: wide,
    spanId,
    flags: sampled === true ? 1 : 0,
    traceIdAsSent: traceId,
    single,
    decided: sampled !== null,
  };
}

/**
 * Parses Zipkin B3 propagation: the single `b3: {trace}-{span}[-{sampled}[-{parent}]]` header, else
 * `x-b3-traceid` / `x-b3-spanid` / `x-b3-sampled` / `x-b3-flags`. `null` when absent or malformed.
 */
export function parseB3(headers: Readonly<Record<string, string | string[] | undefined>>): B3Parent | null {
  const single = headers.b3;
  if (typeof single === 'string') {
    const parts = single.split('-');
    if (parts.length < 2 || parts.length > 4) return null;
    return b3Parent(parts[0] as string, parts[1] as string, b3Sampled(parts[2]), true);
  }
  const traceId = headers['x-b3-traceid'];
  const spanId = headers['x-b3-spanid'];
  if (typeof traceId !== 'string' || typeof spanId !== 'string') return null;
  const flags = headers['x-b3-flags'];
  const sampled = flags === '1' ? true : b3Sampled(headers['x-b3-sampled'] as string | undefined);
  return b3Parent(traceId.toLowerCase(), spanId.toLowerCase(), sampled, false);
}

/**
 * Writes this hop's B3 headers, in the form the client used: the trace (`traceId`, 32 hex, given
 * back 64-bit when the client sent 64-bit ids and it fits), this hop's span, its parent, sampling.
 */
export function writeB3(
  headers: Record<string, string | string[] | undefined>,
  form: B3Parent,
  traceId: string,
  spanId: string,
  parentSpanId: string,
  sampled: boolean,
): void {
  const trace =
    form.traceIdAsSent.length === 16 && traceId.startsWith('0000000000000000') ? traceId.slice(16) : traceId;
  if (form.single) {
    headers.b3 = `${trace}-${spanId}-${sampled ? '1' : '0'}-${parentSpanId}`;
    return;
  }
  headers['x-b3-traceid'] = trace;
  headers['x-b3-spanid'] = spanId;
  headers['x-b3-parentspanid'] = parentSpanId;
  headers['x-b3-sampled'] = sampled ? '1' : '0';
  if (headers['x-b3-flags'] !== undefined) Reflect.deleteProperty(headers, 'x-b3-flags');
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
