// A meshlet proxy from a YAML bootstrap (the way users configure it) in front of one loopback
// upstream, for the fuzz suites and their regression tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createProxy, snapshotOfBootstrap, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';

/** A running proxy (listener `fuzz`, HTTP stat prefix `fuzz`) and its upstream. */
export interface FuzzProxy {
  readonly proxy: HttpProxy;
  /** The proxy listener's port. */
  readonly port: number;
  readonly upstream: http.Server;
  /** Errors the proxy reported through its 'error' event ("something failed that no request could report"). */
  readonly internalErrors: string[];
  /** Value of one of the proxy's gauges (Envoy's names), e.g. `http.fuzz.downstream_cx_active`. */
  gauge(name: string): number;
  close(): Promise<void>;
}

/** Starts an upstream serving `handler` and a proxy routing every HTTP request to it. */
export async function startFuzzProxy(handler: http.RequestListener): Promise<FuzzProxy> {
  const upstream = http.createServer(handler);
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const { bootstrap } = parseBootstrap(`
static_resources:
  listeners:
    - name: fuzz
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: fuzz
                codec_type: AUTO
                max_request_headers_kb: 16
                request_headers_timeout: 3s
                upgrade_configs: [{ upgrade_type: websocket }]
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ['*']
                      routes:
                        - match: { prefix: / }
                          route: { cluster: echo, timeout: 3s }
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
    - name: echo
      connect_timeout: 1s
      load_assignment:
        cluster_name: echo
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`);
  const proxy = createProxy({ config: snapshotOfBootstrap(bootstrap) });
  const internalErrors: string[] = [];
  proxy.on('error', (error, where) => {
    internalErrors.push(
      `${where}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  });
  await proxy.start();
  return {
    proxy,
    port: proxy.address('fuzz')?.port ?? 0,
    upstream,
    internalErrors,
    gauge(name) {
      for (const g of proxy.stats?.gauges() ?? []) if (g.name === name) return g.value;
      throw new Error(`no gauge ${name}`);
    },
    async close() {
      await proxy.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) =>
        upstream.close(() => {
          resolve();
        }),
      );
    },
  };
}
