// Tracing: W3C trace context propagation and OpenTelemetry spans (optional peer dependency).
export { Tracing } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export type { OtelApi, OtelSpan, OtelSpanContext, OtelTracer } from './otel.js';
export { parseTraceParent, formatTraceParent } from './trace-context.js';
export type { TraceParent } from './trace-context.js';
