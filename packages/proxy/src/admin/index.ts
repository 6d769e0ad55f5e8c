// The admin server: Envoy's admin API for a proxy.
export { AdminServer, createAdminServer } from './server.js';
export type { AdminResponse, AdminServerOptions } from './server.js';
export { AdminRequestError } from './errors.js';
export { Logger, LOG_LEVELS, LOGGER_NAMES, parseLogLevel } from './logger.js';
export type { LogLevel, LogRecord, LogSink, LoggerOptions } from './logger.js';
export type { HostCounts, HostCountsSource } from './clusters.js';
export { REDACTED } from './config-dump.js';
