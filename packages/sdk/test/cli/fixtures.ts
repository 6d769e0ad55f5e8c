// Bootstrap files for the CLI's tests, written to a temporary folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new temporary folder. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'meshlet-cli-'));
}

/** Writes `text` to `name` in `dir`; returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/**
 * A static gateway: listener `ingress` (port 0) routing everything to cluster `app` at
 * `upstreamPort`, with the CLI's `meshlet.served_by` filter; the admin on port 0.
 */
export function gatewayBootstrap(upstreamPort: number, cluster = 'app'): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
    - name: ingress
      address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  name: local
                  virtual_hosts:
                    - name: all
                      domains: ['*']
                      routes:
                        - match: { prefix: / }
                          route: { cluster: ${cluster} }
                http_filters:
                  - name: meshlet.served_by
                    typed_config:
                      '@type': type.googleapis.com/xds.type.v3.TypedStruct
                      type_url: type.googleapis.com/meshlet.served_by
                      value: {}
                  - name: envoy.filters.http.router
                    typed_config:
                      '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: app
      connect_timeout: 1s
      load_assignment:
        cluster_name: app
        endpoints:
          - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${upstreamPort} } } }
`;
}
