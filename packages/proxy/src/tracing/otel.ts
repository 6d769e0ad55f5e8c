// The part of `@opentelemetry/api` the proxy uses, typed here so that the proxy's types do not
// need the package: it is an optional peer dependency, loaded at `createProxy` when installed.
import { createRequire } from 'node:module';

/** An OpenTelemetry span context (`SpanContext` of `@opentelemetry/api`). */
export interface OtelSpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
}

/** An OpenTelemetry span, as far as the proxy uses it. */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number): void;
}

/** An OpenTelemetry tracer, as far as the proxy uses it. */
export interface OtelTracer {
  startSpan(name: string, options?: { kind?: number; startTime?: number }, context?: unknown): OtelSpan;
}

/** The `@opentelemetry/api` module, as far as the proxy uses it. */
export interface OtelApi {
  readonly trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpanContext(context: unknown, spanContext: OtelSpanContext): unknown;
  };
  readonly ROOT_CONTEXT: unknown;
}

/** `@opentelemetry/api` if the application has it installed, else `null`. */
export function loadOpenTelemetry(): OtelApi | null {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
  } catch {
    return null;
  }
}

/** `SpanKind.SERVER` and `SpanStatusCode.ERROR` of the API (stable numbers). */
export const SPAN_KIND_SERVER = 1;
export const SPAN_STATUS_ERROR = 2;
