// Access logs: Envoy's format strings and JSON, filters, and non-blocking batched destinations.
export { AccessLogs } from './access-logs.js';
export type { AccessLogOptions } from './access-logs.js';
export type { AccessLogCounters, AccessLogSink } from './writer.js';
export { DEFAULT_FORMAT } from './format.js';
