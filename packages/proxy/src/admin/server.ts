// The admin server: Envoy's admin API over node:http for one proxy. Bound to 127.0.0.1 unless
// an address is configured (it can drain the proxy and shows its whole config). Every handler is
// synchronous over state the proxy already keeps; mutating endpoints take POST only.
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '@meshlet/errors';
import type { StatsStore } from '@meshlet/stats';
import { compileRegex } from '@meshlet/xds';
import type * as model from '@meshlet/xds';
import type { HealthCheckEvent } from '../cluster/health-checker.js';
import type { ManagedCluster } from '../cluster/managed-cluster.js';
import type { HttpProxy } from '../proxy.js';
import { hostStatsOf } from '../stats/proxy-stats.js';
import { clustersJson, clustersText, type HostCountsSource } from './clusters.js';
import { applyMask, configDump, RESOURCE_FIELDS, selectResource, type Json } from './config-dump.js';
import { AdminRequestError } from './errors.js';
import { Logger, parseLogLevel, type LogLevel, type LogSink } from './logger.js';
import { statsJson, statsPrometheus, statsText, type StatsQuery } from './stats-view.js';

/** Options of {@link createAdminServer}. */
export interface AdminServerOptions {
  /** The proxy to administer. */
  readonly proxy: HttpProxy;
  /** The stats for `/stats` and `/stats/prometheus`. Default: the proxy's (`HttpProxy.stats`); 404 when it has none. */
  readonly stats?: StatsStore;
  /**
   * The address to bind. Default: the bootstrap's `admin.address`, else `127.0.0.1`. Anything
   * but loopback exposes `/drain_listeners` and the config to whoever can reach it.
   */
  readonly address?: string;
  /** The port. Default: the bootstrap's `admin.address`, else 9901. 0 picks a free one. */
  readonly port?: number;
  /**
   * The bootstrap the proxy runs: its `admin.address` (when `address` is not given), `node`
   * (`/server_info`), and static resources (dumped as static by `/config_dump`).
   */
  readonly bootstrap?: model.Bootstrap;
  /** The logger of the proxy's components, whose levels `/logging` changes. Default: a new one. */
  readonly logger?: Logger;
  /** Level of a new logger. Default `info`. */
  readonly logLevel?: LogLevel;
  /** Where a new logger writes. Default stderr. */
  readonly logSink?: LogSink;
  /** Per-host counts for `/clusters` (`cx_total`, `rq_total`...). Default: the proxy's per-host stats. */
  readonly hostCounts?: HostCountsSource;
  /** How long `/drain_listeners?graceful` lets streams in flight finish. Default 5000 ms. */
  readonly drainTimeMs?: number;
  /** Wall-clock ms, for uptimes and `last_updated`. Default `Date.now`. */
  readonly now?: () => number;
  /** `/server_info`'s `version`. Default `meshlet/proxy (node <version>)`. */
  readonly version?: string;
}

/** One answer of the admin API. */
export interface AdminResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

type Method = 'GET' | 'POST';

interface Endpoint {
  readonly help: string;
  /** Changes state: POST only, as Envoy's `mutates_server_state`. */
  readonly mutates: boolean;
  handle(query: URLSearchParams, method: Method): AdminResponse;
}

const TEXT = 'text/plain; charset=UTF-8';
const JSON_TYPE = 'application/json';
const PROMETHEUS = 'text/plain; version=0.0.4; charset=UTF-8';
const DEFAULT_PORT = 9901;
const DEFAULT_DRAIN_TIME_MS = 5000;

function text(body: string, status = 200): AdminResponse {
  return { status, contentType: TEXT, body };
}

function json(value: unknown, status = 200): AdminResponse {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify(value, null, 2)}\n` };
}

function flag(query: URLSearchParams, name: string): boolean {
  return query.has(name) && query.get(name) !== 'false';
}

function bootstrapAddress(bootstrap: model.Bootstrap | undefined): {
  host?: string;
  port?: number;
  pipe?: string;
} {
  const address = bootstrap?.admin?.address;
  if (address === undefined) return {};
  if ('pipe' in address) return { pipe: address.pipe.path };
  return { host: address.socketAddress.address, port: address.socketAddress.port };
}

/**
 * Envoy's admin API for one proxy. Create it with {@link createAdminServer}, then `start()`.
 */
export class AdminServer {
  /** The logger of the proxy's components; `/logging` changes its levels. */
  readonly logger: Logger;
  readonly #proxy: HttpProxy;
  readonly #stats: StatsStore | undefined;
  readonly #bootstrap: model.Bootstrap | undefined;
  readonly #host: string;
  readonly #port: number;
  readonly #pipe: string | undefined;
  readonly #hostCounts: HostCountsSource | undefined;
  readonly #drainTimeMs: number;
  readonly #now: () => number;
  readonly #version: string;
  readonly #endpoints: ReadonlyMap<string, Endpoint>;
  readonly #createdAt: number;
  #updatedAt: number;
  #server: Server | null = null;
  #closed = false;
  /** Clusters whose events are logged, with how to stop. */
  readonly #watched = new Map<ManagedCluster, () => void>();
  readonly #unsubscribe: (() => void)[] = [];

  /** @internal Use {@link createAdminServer}. */
  constructor(options: AdminServerOptions) {
    if (typeof options !== 'object' || (options as unknown) === null) {
      throw new ConfigError('createAdminServer: options must be an object');
    }
    const { proxy } = options;
    if (typeof proxy !== 'object' || typeof proxy.failHealthCheck !== 'function') {
      throw new ConfigError('createAdminServer: proxy must be an HttpProxy (createProxy)');
    }
    const fromBootstrap = bootstrapAddress(options.bootstrap);
    const port = options.port ?? fromBootstrap.port ?? DEFAULT_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`createAdminServer: port must be an integer in [0, 65535], got ${String(port)}`);
    }
    const host = options.address ?? fromBootstrap.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') {
      throw new ConfigError('createAdminServer: address must be a non-empty string');
    }
    const drainTimeMs = options.drainTimeMs ?? DEFAULT_DRAIN_TIME_MS;
    if (!Number.isFinite(drainTimeMs) || drainTimeMs < 0) {
      throw new ConfigError(
        `createAdminServer: drainTimeMs must be a number >= 0, got ${String(drainTimeMs)}`,
      );
    }
    if (options.stats !== undefined && typeof options.stats.prometheus !== 'function') {
      throw new ConfigError('createAdminServer: stats must be a StatsStore (createStatsStore)');
    }
    this.#proxy = proxy;
    this.#stats = options.stats ?? proxy.stats ?? undefined;
    this.#bootstrap = options.bootstrap;
    this.#host = host;
    this.#port = port;
    this.#pipe = options.address === undefined && options.port === undefined ? fromBootstrap.pipe : undefined;
    this.#hostCounts =
      options.hostCounts ??
      ((cluster, host) => {
        const managed = proxy.clusters.get(cluster);
        return managed === undefined ? undefined : hostStatsOf(managed, host);
      });
    this.#drainTimeMs = drainTimeMs;
    this.#now = options.now ?? Date.now;
    this.#version = options.version ?? `meshlet/proxy (node ${process.version})`;
    this.logger =
      options.logger ??
      new Logger({
        ...(options.logLevel !== undefined ? { level: options.logLevel } : {}),
        ...(options.logSink !== undefined ? { sink: options.logSink } : {}),
        now: this.#now,
      });
    this.#createdAt = this.#now();
    this.#updatedAt = this.#createdAt;
    this.#endpoints = this.#routes();
  }

  /** Binds the admin listener and starts logging the proxy's events. Resolves with its address. */
  async start(): Promise<AddressInfo | string> {
    if (this.#server !== null || this.#closed)
      throw new ConfigError('admin: start() called twice or after close()');
    const server = http.createServer((req, res) => {
      this.#serve(req, res);
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        reject(
          new ConfigError(
            `admin: cannot listen on ${this.#pipe ?? `${this.#host}:${String(this.#port)}`}: ${error.message}`,
            {
              cause: error,
            },
          ),
        );
      };
      server.once('error', fail);
      const listening = (): void => {
        server.off('error', fail);
        resolve();
      };
      if (this.#pipe !== undefined) server.listen(this.#pipe, listening);
      else server.listen(this.#port, this.#host, listening);
    });
    server.on('error', (error) => {
      this.logger.log('admin', 'error', `admin listener: ${error.message}`);
    });
    this.#watchProxy();
    const address = this.address();
    this.logger.log(
      'admin',
      'info',
      `admin listening on ${typeof address === 'string' ? address : `${address?.address ?? ''}:${String(address?.port)}`}`,
    );
    return address ?? '';
  }

  /** The bound address (a path for a pipe), `undefined` before `start()` or after `close()`. */
  address(): AddressInfo | string | undefined {
    const address = this.#server?.address();
    return address ?? undefined;
  }

  /** Stops the admin listener (the proxy keeps running) and stops logging its events. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const off of this.#watched.values()) off();
    this.#watched.clear();
    const server = this.#server;
    this.#server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  }

  /**
   * Answers one admin request, as the HTTP listener does (for embedding the admin API in
   * another server). Never throws: a bad request is a 400.
   */
  handle(method: string, url: string): AdminResponse {
    let parsed: URL;
    try {
      parsed = new URL(url, 'http://admin');
    } catch {
      return text(`invalid URL ${JSON.stringify(url)}\n`, 400);
    }
    const path = parsed.pathname.length > 1 ? parsed.pathname.replace(/\/+$/, '') : parsed.pathname;
    const endpoint = this.#endpoints.get(path);
    if (endpoint === undefined) return text(`invalid path. ${this.#help()}`, 404);
    const m = method === 'HEAD' ? 'GET' : method;
    if (m !== 'GET' && m !== 'POST') return text(`Method ${method} not allowed, use GET or POST.\n`, 405);
    if (endpoint.mutates && m !== 'POST' && !(path === '/logging' && parsed.search === '')) {
      this.logger.log(
        'admin',
        'warning',
        `admin path "${path}" mutates state, method=${method} rather than POST`,
      );
      return text(`Method ${method} not allowed, POST required.\n`, 405);
    }
    try {
      return endpoint.handle(parsed.searchParams, m);
    } catch (error) {
      if (error instanceof AdminRequestError) return text(`${error.message}\n`, 400);
      this.logger.log(
        'admin',
        'error',
        `admin ${path}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return text('internal error\n', 500);
    }
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const answer = this.handle(req.method ?? 'GET', req.url ?? '/');
    res.statusCode = answer.status;
    res.setHeader('content-type', answer.contentType);
    res.setHeader('cache-control', 'no-cache, max-age=0');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('content-length', Buffer.byteLength(answer.body));
    // The request body (if any) is ignored; reading it lets the connection be reused.
    req.resume();
    res.end(req.method === 'HEAD' ? undefined : answer.body);
  }

  #routes(): ReadonlyMap<string, Endpoint> {
    const routes = new Map<string, Endpoint>();
    const help = (): AdminResponse => text(this.#help());
    routes.set('/', { help: 'Admin home page: this list', mutates: false, handle: help });
    routes.set('/help', { help: 'print out list of admin commands', mutates: false, handle: help });
    routes.set('/clusters', {
      help: 'upstream cluster status (?format=json)',
      mutates: false,
      handle: (q) => this.#clusters(q),
    });
    routes.set('/config_dump', {
      help: 'dump current meshlet configs (?resource=, ?mask=); secrets redacted',
      mutates: false,
      handle: (q) => this.#configDump(q),
    });
    routes.set('/drain_listeners', {
      help: 'drain listeners (?graceful, ?inboundonly)',
      mutates: true,
      handle: (q) => this.#drainListeners(q),
    });
    routes.set('/healthcheck/fail', {
      help: 'cause the server to fail health checks',
      mutates: true,
      handle: () => this.#setHealth(true),
    });
    routes.set('/healthcheck/ok', {
      help: 'cause the server to pass health checks',
      mutates: true,
      handle: () => this.#setHealth(false),
    });
    routes.set('/logging', {
      help: 'query/change logging levels (?level=, ?<logger>=<level>, ?paths=<logger>:<level>,...)',
      mutates: true,
      handle: (q, m) => this.#logging(q, m),
    });
    routes.set('/ready', {
      help: 'print server state, return 200 if LIVE, otherwise return 503',
      mutates: false,
      handle: () => {
        const state = this.#state();
        return text(`${state}\n`, state === 'LIVE' ? 200 : 503);
      },
    });
    routes.set('/server_info', {
      help: 'print server version/status information',
      mutates: false,
      handle: () => json(this.#serverInfo()),
    });
    routes.set('/stats', {
      help: 'print server stats (?format=json, ?filter=<regex>, ?usedonly)',
      mutates: false,
      handle: (q) => this.#statsEndpoint(q, false),
    });
    routes.set('/stats/prometheus', {
      help: 'print server stats in prometheus format (?usedonly, ?filter=<regex>)',
      mutates: false,
      handle: (q) => this.#statsEndpoint(q, true),
    });
    return routes;
  }

  #help(): string {
    let out = 'admin commands are:\n';
    for (const [path, endpoint] of this.#endpoints) {
      if (path === '/') continue;
      out += `  ${path}${endpoint.mutates ? ' (POST)' : ''}: ${endpoint.help}\n`;
    }
    return out;
  }

  /** Envoy's server state: PRE_INITIALIZING, INITIALIZING, LIVE or DRAINING. */
  #state(): 'PRE_INITIALIZING' | 'INITIALIZING' | 'LIVE' | 'DRAINING' {
    const proxy = this.#proxy;
    switch (proxy.lifecycle) {
      case 'new':
        return 'PRE_INITIALIZING';
      case 'starting':
        return 'INITIALIZING';
      case 'running':
        return proxy.healthCheckFailed || proxy.isDraining ? 'DRAINING' : 'LIVE';
      default:
        return 'DRAINING';
    }
  }

  #serverInfo(): Record<string, Json> {
    const now = this.#now();
    const started = this.#proxy.startedAt;
    const uptime = started === undefined ? 0 : Math.max(0, Math.floor((now - started) / 1000));
    const node = this.#bootstrap?.node;
    const levels = this.logger.levels();
    return {
      version: this.#version,
      state: this.#state(),
      hot_restart_version: 'disabled',
      command_line_options: {
        concurrency: 1,
        log_level: levels.find(([name]) => name === 'main')?.[1] ?? 'info',
        component_log_level: levels.map(([name, level]) => `${name}:${level}`).join(','),
        drain_time: `${String(this.#drainTimeMs / 1000)}s`,
        mode: 'Serve',
        service_cluster: node?.cluster ?? '',
        service_node: node?.id ?? '',
        admin_address: this.#pipe ?? this.#host,
      },
      node:
        node === undefined
          ? {}
          : {
              id: node.id,
              cluster: node.cluster,
              metadata: node.metadata as Json,
              ...(node.locality !== undefined
                ? {
                    locality: {
                      region: node.locality.region,
                      zone: node.locality.zone,
                      sub_zone: node.locality.subZone,
                    },
                  }
                : {}),
              user_agent_name: node.userAgentName,
            },
      uptime_current_epoch: `${String(uptime)}s`,
      uptime_all_epochs: `${String(uptime)}s`,
    };
  }

  #clusters(query: URLSearchParams): AdminResponse {
    const format = query.get('format') ?? 'text';
    const clusters = this.#proxy.clusters.clusters;
    if (format === 'json') return json(clustersJson(clusters, this.#hostCounts));
    if (format === 'text') return text(clustersText(clusters, this.#hostCounts));
    throw new AdminRequestError(`/clusters: format must be text or json, got ${JSON.stringify(format)}`);
  }

  #configDump(query: URLSearchParams): AdminResponse {
    let dump = configDump({
      snapshot: this.#proxy.currentConfig,
      version: this.#proxy.version,
      lastUpdated: this.#updatedAt,
      bootstrap: this.#bootstrap,
    });
    const resource = query.get('resource');
    if (resource !== null) {
      const selected = selectResource(dump, resource);
      if (selected === null) {
        throw new AdminRequestError(
          `/config_dump: resource ${JSON.stringify(resource)} is none of ${[...RESOURCE_FIELDS.keys()].join(', ')}`,
        );
      }
      dump = selected;
    }
    const mask = query.get('mask');
    if (mask !== null) {
      const paths = mask.split(',').filter((p) => p !== '');
      if (paths.length === 0) throw new AdminRequestError('/config_dump: mask must name at least one field');
      dump = applyMask(dump, paths);
    }
    return json(dump);
  }

  #drainListeners(query: URLSearchParams): AdminResponse {
    const graceful = flag(query, 'graceful');
    const inboundOnly = flag(query, 'inboundonly');
    this.logger.log(
      'admin',
      'info',
      `draining ${inboundOnly ? 'inbound' : 'all'} listeners${graceful ? ` gracefully (${String(this.#drainTimeMs)} ms)` : ''}`,
    );
    const done = this.#proxy.drain(
      graceful ? this.#drainTimeMs : 0,
      inboundOnly ? (listener) => listener.trafficDirection === 'INBOUND' : undefined,
    );
    // Envoy answers at once; the drain goes on.
    done.catch((error: unknown) => {
      this.logger.log(
        'admin',
        'error',
        `drain_listeners: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
    return text('OK\n');
  }

  #setHealth(failed: boolean): AdminResponse {
    this.#proxy.failHealthCheck(failed);
    this.logger.log('admin', 'info', failed ? 'health checks set to fail' : 'health checks set to pass');
    return text('OK\n');
  }

  #logging(query: URLSearchParams, method: Method): AdminResponse {
    const changes: [string | null, LogLevel][] = [];
    const level = (value: string, where: string): LogLevel => {
      const parsed = parseLogLevel(value);
      if (parsed === undefined) {
        throw new AdminRequestError(
          `/logging: ${where}: unknown level ${JSON.stringify(value)}\n${this.#loggingUsage()}`,
        );
      }
      return parsed;
    };
    const logger = (name: string): string => {
      if (!this.logger.has(name)) {
        throw new AdminRequestError(
          `/logging: unknown logger ${JSON.stringify(name)}\n${this.#loggingUsage()}`,
        );
      }
      return name;
    };
    for (const [key, value] of query) {
      if (key === 'level') changes.push([null, level(value, 'level')]);
      else if (key === 'paths') {
        for (const pair of value.split(',')) {
          const at = pair.lastIndexOf(':');
          if (at <= 0)
            throw new AdminRequestError(
              `/logging: paths: expected <logger>:<level>, got ${JSON.stringify(pair)}`,
            );
          changes.push([logger(pair.slice(0, at)), level(pair.slice(at + 1), pair)]);
        }
      } else changes.push([logger(key), level(value, key)]);
    }
    // Checked whole before any change: a bad query changes nothing.
    if (method === 'POST') {
      for (const [name, l] of changes) {
        if (name === null) this.logger.setAll(l);
        else this.logger.setLevel(name, l);
      }
      if (changes.length > 0) {
        this.logger.log(
          'admin',
          'info',
          `log levels: ${changes.map(([n, l]) => `${n ?? '*'}=${l}`).join(', ')}`,
        );
      }
    }
    let out = 'active loggers:\n';
    for (const [name, l] of this.logger.levels()) out += `  ${name}: ${l}\n`;
    return text(out);
  }

  #loggingUsage(): string {
    return `usage: /logging?<name>=<level> (change single level)\n/logging?paths=name1:level1,name2:level2,... (change multiple levels)\n/logging?level=<level> (change all levels)\nlevels: trace, debug, info, warning, error, critical, off\nloggers: ${this.logger
      .levels()
      .map(([n]) => n)
      .join(', ')}`;
  }

  #statsEndpoint(query: URLSearchParams, prometheus: boolean): AdminResponse {
    const store = this.#stats;
    if (store === undefined) return text('no stats store configured\n', 404);
    const pattern = query.get('filter');
    let filter: StatsQuery['filter'] = null;
    if (pattern !== null && pattern !== '') {
      const compiled = compileRegex(pattern);
      if (typeof compiled === 'string') throw new AdminRequestError(`filter: ${compiled}`);
      filter = compiled;
    }
    const q: StatsQuery = { filter, usedOnly: flag(query, 'usedonly') };
    if (prometheus) return { status: 200, contentType: PROMETHEUS, body: statsPrometheus(store, q) };
    const format = query.get('format') ?? 'text';
    if (format === 'json') return json(statsJson(store, q));
    if (format === 'text') return text(statsText(store, q));
    if (format === 'prometheus')
      return { status: 200, contentType: PROMETHEUS, body: statsPrometheus(store, q) };
    throw new AdminRequestError(
      `/stats: format must be text, json or prometheus, got ${JSON.stringify(format)}`,
    );
  }

  /** Logs what the proxy reports: errors, config versions, listeners, health checks, ejections. */
  #watchProxy(): void {
    const proxy = this.#proxy;
    const log = this.logger;
    const onError = (error: unknown, where: string): void => {
      log.log('main', 'error', `${where}: ${error instanceof Error ? error.message : String(error)}`);
    };
    const onUpdated = (version: number): void => {
      this.#updatedAt = this.#now();
      log.log('config', 'info', `config version ${String(version)} in effect`);
      this.#watchClusters();
    };
    const onListening = (name: string, address: AddressInfo): void => {
      log.log('listener', 'info', `listener "${name}" bound on ${address.address}:${String(address.port)}`);
    };
    const onDrained = (name: string): void => {
      log.log('listener', 'info', `listener "${name}" drained`);
    };
    proxy.on('error', onError);
    proxy.on('updated', onUpdated);
    proxy.on('listening', onListening);
    proxy.on('listener-drained', onDrained);
    this.#unsubscribe.push(() => {
      proxy.off('error', onError);
      proxy.off('updated', onUpdated);
      proxy.off('listening', onListening);
      proxy.off('listener-drained', onDrained);
    });
    this.#watchClusters();
  }

  #watchClusters(): void {
    const log = this.logger;
    const current = this.#proxy.clusters.clusters;
    for (const [cluster, off] of this.#watched) {
      if (current.get(cluster.name) === cluster) continue;
      off();
      this.#watched.delete(cluster);
    }
    for (const cluster of current.values()) {
      if (this.#watched.has(cluster)) continue;
      const name = cluster.name;
      const onCheck = (host: { key: string }, event: HealthCheckEvent): void => {
        if (event.changed) {
          log.log(
            'hc',
            'info',
            `cluster "${name}" host ${host.key} is now ${event.healthy ? 'healthy' : 'unhealthy'}`,
          );
        } else log.log('hc', 'debug', `cluster "${name}" host ${host.key} health check: ${event.outcome}`);
      };
      cluster.on('healthCheck', onCheck);
      const detector = cluster.outlierDetector;
      const onEject = (host: { key: string }, reason: string): void => {
        log.log('upstream', 'info', `cluster "${name}" host ${host.key} ejected (${reason})`);
      };
      const onUneject = (host: { key: string }): void => {
        log.log('upstream', 'info', `cluster "${name}" host ${host.key} back from ejection`);
      };
      detector?.on('eject', onEject);
      detector?.on('uneject', onUneject);
      this.#watched.set(cluster, () => {
        cluster.off('healthCheck', onCheck);
        detector?.off('eject', onEject);
        detector?.off('uneject', onUneject);
      });
    }
  }
}

/**
 * Creates the admin server of a proxy: Envoy's `/ready`, `/server_info`, `/stats`,
 * `/stats/prometheus`, `/config_dump`, `/clusters`, `/drain_listeners`, `/healthcheck/fail`,
 * `/healthcheck/ok` and `/logging`. Bound to 127.0.0.1:9901 unless configured.
 *
 * @example
 * ```ts
 * const stats = createStatsStore(); // @meshlet/stats
 * const proxy = createProxy({ config });
 * const admin = createAdminServer({ proxy, stats, port: 9901 });
 * await proxy.start();
 * await admin.start();
 * // curl -s localhost:9901/ready → LIVE
 * // curl -s -X POST localhost:9901/healthcheck/fail
 * await admin.close();
 * ```
 */
export function createAdminServer(options: AdminServerOptions): AdminServer {
  return new AdminServer(options);
}
