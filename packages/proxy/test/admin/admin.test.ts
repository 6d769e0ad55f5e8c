// The admin server against a real proxy and upstream on loopback: each endpoint's shape, the
// POST-only ones, health-check failing and draining as a load balancer's probe sees them,
// secrets redacted from /config_dump, bad queries answered 400.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { isMeshletError } from '@meshlet/errors';
import { AdminRequestError, ConfigError, createAdminServer, REDACTED } from '../../src/index.js';
import { configDump } from '../../src/admin/config-dump.js';
import {
  cluster,
  filterChain,
  hcm,
  listener,
  origin,
  outlierDetection,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from '../e2e/helpers.js';
import { adminScope } from './scope.js';

const { start, call } = adminScope();

const fixture = (name: string): string =>
  readFileSync(new URL(`../e2e/fixtures/${name}`, import.meta.url), 'utf8');

/** Envoy's outlier detection defaults, but one 5xx ejects. */
const outlier = outlierDetection({ consecutive5xx: 1, maxEjectionPercent: 100, enforcingSuccessRate: 0 });

describe('admin server: read-only endpoints', () => {
  it('/ and /help list the endpoints; an unknown path is a 404 with the list', async () => {
    const { admin } = await start();
    const home = await call(admin, '/');
    expect(home.status).toBe(200);
    for (const path of [
      '/clusters',
      '/config_dump',
      '/drain_listeners (POST)',
      '/healthcheck/fail (POST)',
      '/healthcheck/ok (POST)',
      '/logging (POST)',
      '/ready',
      '/server_info',
      '/stats',
      '/stats/prometheus',
    ]) {
      expect(home.body).toContain(`  ${path}: `);
    }
    expect((await call(admin, '/help')).body).toBe(home.body);
    const missing = await call(admin, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatch(/^invalid path\. admin commands are:/);
  });

  it('/ready is 200 LIVE on a running proxy; /server_info has Envoy’s fields', async () => {
    let now = 1_000_000;
    const node: model.Node = {
      id: 'sidecar~10.0.0.1',
      cluster: 'orders',
      metadata: { team: 'a' },
      userAgentName: 'meshlet',
    };
    const bootstrap: model.Bootstrap = { node, staticResources: { listeners: [], clusters: [] } };
    const { admin, proxy } = await start({ admin: { bootstrap, now: () => now } });
    const ready = await call(admin, '/ready');
    expect(ready).toMatchObject({ status: 200, body: 'LIVE\n' });
    expect(ready.type).toMatch(/^text\/plain/);
    now = (proxy.startedAt ?? 0) + 61_500;
    const info = await call(admin, '/server_info');
    expect(info.type).toBe('application/json');
    const body = JSON.parse(info.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      state: 'LIVE',
      uptime_current_epoch: '61s',
      uptime_all_epochs: '61s',
      node: {
        id: 'sidecar~10.0.0.1',
        cluster: 'orders',
        metadata: { team: 'a' },
        user_agent_name: 'meshlet',
      },
      command_line_options: {
        concurrency: 1,
        log_level: 'info',
        service_cluster: 'orders',
        service_node: 'sidecar~10.0.0.1',
      },
    });
    expect(body.version).toMatch(/^meshlet\/proxy/);
  });

  it('/clusters shows each host with health flags, weight, limits, and outlier ejection (text and JSON)', async () => {
    const { createServer } = await import('node:http');
    const failing = createServer((req, res) => {
      req.resume();
      res.statusCode = 503;
      res.end();
    });
    failing.listen(0, '127.0.0.1');
    await once(failing, 'listening');
    const badPort = (failing.address() as net.AddressInfo).port;
    try {
      const rc = routeConfig('rc', [
        virtualHost(
          'all',
          ['*'],
          [
            route('bad', {
              match: { prefix: '/bad', caseSensitive: true, headers: [], queryParameters: [], grpc: false },
              route: routeAction('bad'),
            }),
            route('r', { route: routeAction('up') }),
          ],
        ),
      ]);
      const up = await start({
        config: snapshot({
          listeners: [listener('ingress', [filterChain(hcm({ routeConfig: rc }))])],
          clusters: [cluster('bad', [badPort], { outlierDetection: outlier })],
        }),
      });
      const res = await fetch(`${origin(up.proxy)}/bad`);
      expect(res.status).toBe(503);
      await res.text();
      const textAnswer = await call(up.admin, '/clusters');
      expect(textAnswer.status).toBe(200);
      const host = `127.0.0.1:${String(badPort)}`;
      const lines = textAnswer.body.split('\n');
      expect(lines).toContain(`bad::${host}::health_flags::/failed_outlier_check`);
      expect(lines).toContain(`bad::${host}::weight::1`);
      expect(lines).toContain(`bad::${host}::rq_active::0`);
      expect(lines).toContain(`bad::${host}::outlier_ejections::1`);
      expect(lines).toContain('bad::default_priority::max_connections::1024');
      expect(lines).toContain('bad::high_priority::max_retries::3');
      expect(lines).toContain('bad::added_via_api::false');
      for (const line of lines.filter((l) => l !== '')) expect(line).toMatch(/^bad::.+::.*$/);

      const jsonAnswer = JSON.parse((await call(up.admin, '/clusters?format=json')).body) as {
        cluster_statuses: {
          name: string;
          outlier_detection: { ejections_active: number };
          host_statuses: { address: unknown; health_status: Record<string, unknown>; weight: number }[];
        }[];
      };
      const status = jsonAnswer.cluster_statuses[0];
      expect(status?.name).toBe('bad');
      expect(status?.outlier_detection.ejections_active).toBe(1);
      expect(status?.host_statuses[0]).toMatchObject({
        address: { socket_address: { address: '127.0.0.1', port_value: badPort } },
        health_status: { eds_health_status: 'HEALTHY', failed_outlier_check: true },
        weight: 1,
      });
    } finally {
      failing.closeAllConnections();
      failing.close();
    }
  });

  it('/clusters of a healthy host says healthy, and shows counts when given a source', async () => {
    const { admin, upstreamPort } = await start({
      admin: {
        hostCounts: (name) =>
          name === 'up'
            ? {
                cxActive: 1,
                cxConnectFail: 0,
                cxTotal: 2,
                rqError: 0,
                rqSuccess: 5,
                rqTimeout: 0,
                rqTotal: 5,
              }
            : undefined,
      },
    });
    const lines = (await call(admin, '/clusters')).body.split('\n');
    const host = `up::127.0.0.1:${String(upstreamPort)}::`;
    expect(lines).toContain(`${host}health_flags::healthy`);
    expect(lines).toContain(`${host}rq_total::5`);
    expect(lines).toContain(`${host}cx_active::1`);
    expect((await call(admin, '/clusters?format=yaml')).status).toBe(400);
  });

  it("/clusters counts each host's requests and connections from the proxy's own stats", async () => {
    const { admin, proxy, upstreamPort } = await start();
    const [address] = [...proxy.addresses.values()];
    const port = address?.port ?? 0;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`http://127.0.0.1:${String(port)}/`);
      await res.text();
    }
    const lines = (await call(admin, '/clusters')).body.split('\n');
    const host = `up::127.0.0.1:${String(upstreamPort)}::`;
    expect(lines).toContain(`${host}rq_total::3`);
    expect(lines).toContain(`${host}rq_success::3`);
    expect(lines).toContain(`${host}cx_total::1`);
  });
});

describe('admin server: /config_dump', () => {
  const tlsChain = (key: string): model.FilterChain =>
    filterChain(
      hcm({
        routeConfig: routeConfig('rc', [
          virtualHost('all', ['*'], [route('r', { route: routeAction('up') })]),
        ]),
      }),
      {
        name: 'tls',
        tls: {
          certificates: [
            { certificateChain: { inlineString: fixture('alpha.crt') }, privateKey: { inlineString: key } },
          ],
          alpnProtocols: ['h2', 'http/1.1'],
          requireClientCertificate: false,
        },
      },
    );

  it('dumps listeners, clusters, endpoints and routes in Envoy’s shape, with the TLS key redacted', async () => {
    const key = fixture('alpha.key');
    const rds = routeConfig('shared', [
      virtualHost('all', ['*'], [route('r', { route: routeAction('up', { timeoutMs: 2500 }) })]),
    ]);
    const config = snapshot({
      listeners: [
        listener('secure', [tlsChain(key)]),
        listener('plain', [filterChain(hcm({ rds: { routeConfigName: 'shared' } }))]),
      ],
      routeConfigurations: [rds],
      clusters: [cluster('up', [1])],
    });
    const bootstrap: model.Bootstrap = {
      node: { id: 'n', cluster: 'c', metadata: {}, userAgentName: 'meshlet' },
      staticResources: {
        listeners: [...config.listeners.values()].filter((l) => l.name === 'secure'),
        clusters: [],
      },
    };
    const { admin } = await start({ config, admin: { bootstrap } });
    const answer = await call(admin, '/config_dump');
    expect(answer.status).toBe(200);
    expect(answer.body).not.toContain('PRIVATE KEY');
    expect(answer.body).not.toContain(key.split('\n')[1]);
    const dump = JSON.parse(answer.body) as { configs: Record<string, unknown>[] };
    expect(dump.configs.map((c) => c['@type'])).toEqual([
      'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
      'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
      'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
      'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
      'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
    ]);
    const listeners = dump.configs[3] as {
      version_info: string;
      static_listeners: { listener: Record<string, unknown>; last_updated: string }[];
      dynamic_listeners: {
        name: string;
        active_state: { version_info: string; listener: Record<string, unknown> };
      }[];
    };
    expect(listeners.version_info).toBe('1');
    expect(listeners.static_listeners).toHaveLength(1);
    expect(listeners.dynamic_listeners.map((l) => l.name)).toEqual(['plain']);
    const secure = listeners.static_listeners[0]?.listener as {
      '@type': string;
      name: string;
      address: unknown;
      filter_chains: {
        transport_socket: { typed_config: Record<string, unknown> };
        filters: { typed_config: Record<string, unknown> }[];
      }[];
    };
    expect(secure['@type']).toBe('type.googleapis.com/envoy.config.listener.v3.Listener');
    expect(secure.address).toEqual({
      socket_address: { address: '127.0.0.1', port_value: 0, protocol: 'TCP' },
    });
    const tls = secure.filter_chains[0]?.transport_socket.typed_config;
    expect(tls).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      common_tls_context: {
        alpn_protocols: ['h2', 'http/1.1'],
        tls_certificates: [
          {
            certificate_chain: { inline_string: fixture('alpha.crt') },
            private_key: { inline_string: REDACTED },
          },
        ],
      },
    });
    expect(secure.filter_chains[0]?.filters[0]?.typed_config['@type']).toBe(
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    );
    expect(secure.filter_chains[0]?.filters[0]?.typed_config).toMatchObject({
      stat_prefix: 'ingress_http',
      http_filters: [
        {
          name: 'envoy.filters.http.router',
          typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
        },
      ],
    });
    const clusters = dump.configs[1] as {
      dynamic_active_clusters: { version_info: string; cluster: Record<string, unknown> }[];
    };
    expect(clusters.dynamic_active_clusters[0]?.cluster).toMatchObject({
      '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      name: 'up',
      type: 'STATIC',
      connect_timeout: '1s',
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: 'up',
        endpoints: [
          {
            lb_endpoints: [
              { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } },
            ],
          },
        ],
      },
    });
    const routes = dump.configs[4] as { dynamic_route_configs: { route_config: Record<string, unknown> }[] };
    expect(routes.dynamic_route_configs[0]?.route_config).toMatchObject({
      '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
      name: 'shared',
      virtual_hosts: [
        { name: 'all', domains: ['*'], routes: [{ name: 'r', route: { cluster: 'up', timeout: '2.5s' } }] },
      ],
    });
  });

  it('redacts secrets anywhere: a key given as bytes, a password and ticket keys in metadata, a stray PEM key', () => {
    const key = fixture('alpha.key');
    const chain = tlsChain(key);
    const withBytes: model.FilterChain = {
      ...chain,
      tls: {
        certificates: [
          {
            certificateChain: { inlineString: fixture('alpha.crt') },
            privateKey: { inlineBytes: Buffer.from(key).toString('base64') },
          },
        ],
        alpnProtocols: [],
        requireClientCertificate: false,
      },
    };
    const dump = configDump({
      version: 1,
      lastUpdated: 0,
      bootstrap: undefined,
      snapshot: snapshot({
        listeners: [listener('secure', [withBytes])],
        clusters: [
          cluster('up', [1], {
            metadata: { 'acme.auth': { password: 'hunter2', session_ticket_keys: ['k1'], note: key } },
          }),
        ],
      }),
    });
    const text = JSON.stringify(dump);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('k1');
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(Buffer.from(key).toString('base64').slice(0, 40));
    expect(text).toContain('"private_key":{"inline_bytes":"[redacted]"}');
    expect(text).toContain('"password":"[redacted]"');
  });

  it('?resource= picks a repeated field, ?mask= keeps named fields; an unknown resource is a 400', async () => {
    const { admin } = await start();
    const clusters = JSON.parse(
      (await call(admin, '/config_dump?resource=dynamic_active_clusters')).body,
    ) as {
      configs: Record<string, unknown>[];
    };
    expect(clusters.configs).toHaveLength(1);
    expect(clusters.configs[0]).toMatchObject({
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster',
      version_info: '1',
      cluster: { name: 'up' },
    });
    const masked = JSON.parse(
      (await call(admin, '/config_dump?resource=dynamic_active_clusters&mask=cluster.name')).body,
    ) as {
      configs: Record<string, unknown>[];
    };
    expect(masked.configs[0]).toEqual({
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster',
      cluster: { name: 'up' },
    });
    const bad = await call(admin, '/config_dump?resource=secrets');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatch(/resource "secrets" is none of static_clusters, dynamic_active_clusters/);
  });
});

describe('admin server: mutating endpoints', () => {
  it('refuses GET on every POST-only endpoint with 405, changing nothing', async () => {
    const { admin, proxy } = await start();
    for (const path of ['/drain_listeners', '/healthcheck/fail', '/healthcheck/ok', '/logging?level=debug']) {
      const answer = await call(admin, path);
      expect(answer.status, path).toBe(405);
      expect(answer.body).toBe('Method GET not allowed, POST required.\n');
    }
    expect(proxy.healthCheckFailed).toBe(false);
    expect(proxy.isDraining).toBe(false);
    expect(admin.logger.levels().every(([, level]) => level === 'info')).toBe(true);
    expect((await call(admin, '/ready', 'DELETE')).status).toBe(405);
  });

  it('/healthcheck/fail turns /ready to 503 DRAINING and server_info.state with it; /healthcheck/ok undoes it; traffic still flows', async () => {
    const { admin, proxy, logs } = await start();
    expect(await call(admin, '/healthcheck/fail', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(await call(admin, '/ready')).toMatchObject({ status: 503, body: 'DRAINING\n' });
    expect((JSON.parse((await call(admin, '/server_info')).body) as { state: string }).state).toBe(
      'DRAINING',
    );
    const res = await fetch(origin(proxy));
    expect(await res.text()).toBe('up');
    expect(await call(admin, '/healthcheck/ok', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(await call(admin, '/ready')).toMatchObject({ status: 200, body: 'LIVE\n' });
    expect(logs.filter((r) => r.logger === 'admin').map((r) => r.message)).toEqual(
      expect.arrayContaining(['health checks set to fail', 'health checks set to pass']),
    );
  });

  it('/drain_listeners stops the listeners: new connections are refused, /ready says DRAINING', async () => {
    const { admin, proxy, logs } = await start();
    const { port } = proxy.address('ingress') ?? { port: 0 };
    const drained = new Promise<string>((resolve) => proxy.once('listener-drained', resolve));
    expect(await call(admin, '/drain_listeners', 'POST')).toMatchObject({ status: 200, body: 'OK\n' });
    expect(await drained).toBe('ingress');
    const refused = net.connect(port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    expect(await call(admin, '/ready')).toMatchObject({ status: 503, body: 'DRAINING\n' });
    expect(logs.map((r) => `${r.logger}: ${r.message}`)).toEqual(
      expect.arrayContaining(['admin: draining all listeners', 'listener: listener "ingress" drained']),
    );
  });

  it('/drain_listeners?inboundonly&graceful drains only INBOUND listeners', async () => {
    const rc = routeConfig('rc', [virtualHost('all', ['*'], [route('r', { route: routeAction('up') })])]);
    const config = snapshot({
      listeners: [
        listener('inbound', [filterChain(hcm({ routeConfig: rc }))], 0, { trafficDirection: 'INBOUND' }),
        listener('outbound', [filterChain(hcm({ routeConfig: rc }))], 0, { trafficDirection: 'OUTBOUND' }),
      ],
      clusters: [cluster('up', [1])],
    });
    const { admin, proxy, logs } = await start({ config, admin: { drainTimeMs: 1000 } });
    const drained = new Promise<string>((resolve) => proxy.once('listener-drained', resolve));
    expect((await call(admin, '/drain_listeners?inboundonly&graceful', 'POST')).status).toBe(200);
    expect(await drained).toBe('inbound');
    const outbound = net.connect(proxy.address('outbound')?.port ?? 0, '127.0.0.1');
    await once(outbound, 'connect');
    outbound.destroy();
    expect(logs.map((r) => r.message)).toContain('draining inbound listeners gracefully (1000 ms)');
  });

  it('/logging lists levels on GET, sets one, several or all on POST, and rejects unknown names with 400', async () => {
    const { admin, logs } = await start();
    const list = await call(admin, '/logging');
    expect(list.status).toBe(200);
    expect(list.body).toBe(
      'active loggers:\n  admin: info\n  config: info\n  hc: info\n  listener: info\n  main: info\n  upstream: info\n',
    );
    expect((await call(admin, '/logging?upstream=debug', 'POST')).body).toContain('  upstream: debug\n');
    expect((await call(admin, '/logging?paths=hc:warn,config:error', 'POST')).body).toContain(
      '  hc: warning\n  listener: info\n',
    );
    expect(admin.logger.levels()).toContainEqual(['config', 'error']);
    const badLevel = await call(admin, '/logging?level=loud', 'POST');
    expect(badLevel.status).toBe(400);
    expect(badLevel.body).toMatch(/unknown level "loud"/);
    const badName = await call(admin, '/logging?nobody=info&level=off', 'POST');
    expect(badName.status).toBe(400);
    expect(admin.logger.levels()).toContainEqual(['admin', 'info']); // the bad query changed nothing
    expect((await call(admin, '/logging?level=off', 'POST')).body).not.toMatch(/: (?!off)/);
    const before = logs.length;
    await call(admin, '/healthcheck/fail', 'POST');
    expect(logs.length).toBe(before); // admin is off now
  });

  it('logs the proxy’s config updates and errors through its loggers', async () => {
    const { proxy, logs } = await start();
    await proxy.update(proxy.currentConfig);
    proxy.emit('error', new Error('boom'), 'filter destroy');
    expect(logs.map((r) => `${r.level} ${r.logger}: ${r.message}`)).toEqual(
      expect.arrayContaining(['info config: config version 2 in effect', 'error main: filter destroy: boom']),
    );
  });
});

describe('admin server: options and errors', () => {
  it('rejects bad options with a ConfigError', async () => {
    const { proxy } = await start();
    expect(() => createAdminServer({ proxy, port: 70_000 })).toThrow(ConfigError);
    expect(() => createAdminServer({ proxy, address: '' })).toThrow(/address must be a non-empty string/);
    expect(() => createAdminServer({ proxy, drainTimeMs: -1 })).toThrow(ConfigError);
    expect(() => createAdminServer({ proxy: {} as never })).toThrow(/proxy must be an HttpProxy/);
  });

  it('a port in use rejects start() with a ConfigError naming the address', async () => {
    const { proxy, admin } = await start();
    const { port } = admin.address() as net.AddressInfo;
    const second = createAdminServer({ proxy, port });
    const failure: unknown = await second.start().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ConfigError);
    expect(String(failure)).toMatch(new RegExp(`127\\.0\\.0\\.1:${String(port)}`));
    await second.close();
  });

  it('AdminRequestError has its own code', () => {
    const error = new AdminRequestError('x');
    expect(isMeshletError(error)).toBe(true);
    expect(error.code).toBe('MESHLET_ERR_PROXY_ADMIN_REQUEST');
  });

  it("serves the proxy's own stats by default", async () => {
    const { admin, proxy } = await start();
    const answer = await call(admin, '/stats/prometheus');
    expect(answer.status).toBe(200);
    expect(proxy.stats).not.toBeNull();
    expect(answer.body).toContain('envoy_cluster_membership_total{envoy_cluster_name="up"} 1');
  });

  it('answers 404 for stats when the proxy keeps none, and never crashes on odd URLs', async () => {
    const { admin } = await start({ proxy: { stats: false } });
    expect((await call(admin, '/stats')).status).toBe(404);
    expect(admin.handle('GET', '//%zz').status).toBe(400);
    expect(admin.handle('GET', '/stats/../ready').body).toBe('LIVE\n');
    expect(admin.handle('GET', '/ready/').body).toBe('LIVE\n');
  });
});
