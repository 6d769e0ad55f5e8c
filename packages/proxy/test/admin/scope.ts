// A real proxy, a real upstream and the admin server on loopback port 0, closed after each test.
import type { AddressInfo } from 'node:net';
import type * as model from '@meshlet/xds';
import {
  createAdminServer,
  type AdminServer,
  type AdminServerOptions,
  type HttpProxy,
  type LogRecord,
  type ProxyOptions,
} from '../../src/index.js';
import { cluster, gateway, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

/** An answer of the admin server. */
export interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: string;
}

/** What an admin test starts; everything is closed after each test. */
export interface AdminScope {
  readonly cleanups: (() => unknown)[];
  /** Starts a proxy (of `config`, else a gateway to one upstream) and its admin server. */
  readonly start: (more?: {
    config?: model.XdsSnapshot;
    proxy?: Partial<ProxyOptions>;
    admin?: Partial<AdminServerOptions>;
  }) => Promise<{ proxy: HttpProxy; admin: AdminServer; logs: LogRecord[]; upstreamPort: number }>;
  /** A request to the admin server. */
  readonly call: (admin: AdminServer, path: string, method?: string) => Promise<Answer>;
}

/** An {@link AdminScope} for the calling test file. Call once, at the top of the file. */
export function adminScope(): AdminScope {
  const { cleanups, start, upstream } = e2eScope();
  return {
    cleanups,
    start: async (more = {}) => {
      const up = await upstream('up');
      const config =
        more.config ??
        gateway({ routes: [route('r', { route: routeAction('up') })], clusters: [cluster('up', [up.port])] });
      const proxy = await start(config, more.proxy);
      const logs: LogRecord[] = [];
      const admin = createAdminServer({
        proxy,
        port: 0,
        logSink: (record) => logs.push(record),
        ...more.admin,
      });
      cleanups.push(() => admin.close());
      await admin.start();
      return { proxy, admin, logs, upstreamPort: up.port };
    },
    call: async (admin, path, method = 'GET') => {
      const { port } = admin.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${String(port)}${path}`, { method });
      return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
    },
  };
}
