// Tracing: W3C trace context propagation and OpenTelemetry spans (optional peer dependency).
export { Tracing } from './tracing.js';
export type { TracingOptions } from './tracing.js';
export type { OtelApi, OtelSpan, OtelSpanContext, OtelTracer } from './otel.js';
export { parseTraceParent, formatTraceParent, parseB3 } from './trace-context.js';
export type { B3Parent, TraceParent } from './trace-context.js';
