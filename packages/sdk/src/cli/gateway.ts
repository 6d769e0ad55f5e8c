// One gateway process: a proxy on a bootstrap's listeners and clusters (static, or over ADS from
// the management server the bootstrap names) and its admin server. Wiring only: the data plane is
// @meshlet/proxy's, the config @meshlet/xds's.
import type { AddressInfo } from 'node:net';
import {
  createAdminServer,
  createProxy,
  snapshotOfBootstrap,
  type AdminServer,
  type HttpFilter,
  type HttpProxy,
  type LogLevel,
} from '@meshlet/proxy';
import {
  createAdsClient,
  formatIssue,
  type AdsClient,
  type LoadedBootstrap,
  type XdsSnapshot,
} from '@meshlet/xds';
import { CLI_FILTERS } from './filters.js';
import { log, messageOf } from './log.js';

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  readonly bootstrap: LoadedBootstrap;
  /** User filter plugins the config may name, besides the CLI's (`meshlet.served_by`). */
  readonly filters?: readonly HttpFilter[];
  /** Level of the admin's logger (`/logging` changes it). Default `info`. */
  readonly logLevel?: LogLevel;
}

/** A running gateway. */
export interface Gateway {
  readonly proxy: HttpProxy;
  readonly admin: AdminServer;
  /** The ADS client when the config comes from a management server. */
  readonly ads: AdsClient | undefined;
  /** `http://host:port` of a listener. */
  url(listener: string): string;
  /** `http://host:port` of the admin server. */
  readonly adminUrl: string;
  /** Drains the listeners for at most `drainMs`, then closes everything. */
  close(drainMs: number): Promise<void>;
}

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** A snapshot from ADS with the bootstrap's static resources added (static ones win, as in Envoy). */
function withStatic(dynamic: XdsSnapshot, statics: XdsSnapshot): XdsSnapshot {
  return {
    listeners: new Map([...dynamic.listeners, ...statics.listeners]),
    routeConfigurations: dynamic.routeConfigurations,
    clusters: new Map([...dynamic.clusters, ...statics.clusters]),
    endpoints: dynamic.endpoints,
  };
}

/** Waits for the first snapshot of an ADS client, logging what goes wrong meanwhile. */
function firstSnapshot(ads: AdsClient): Promise<XdsSnapshot> {
  return new Promise((resolve) => {
    ads.once('snapshot', resolve);
  });
}

/**
 * Starts a proxy and its admin server from a bootstrap. With `dynamic_resources.ads_config`, the
 * listeners and clusters come from the ADS server (once its first snapshot is complete) and every
 * later snapshot is applied with `proxy.update()`.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { bootstrap } = options.bootstrap;
  const filters = [...CLI_FILTERS, ...(options.filters ?? [])];
  const statics = snapshotOfBootstrap(bootstrap);
  let ads: AdsClient | undefined;
  let config = statics;
  if (bootstrap.dynamicResources?.ads !== undefined) {
    ads = createAdsClient({ bootstrap });
    ads.on('nack', ({ typeUrl, errors }) => {
      log(`ADS: rejected ${typeUrl}: ${errors.map(formatIssue).join('; ')}`);
    });
    ads.on('warning', (issues) => {
      for (const issue of issues) log(`ADS warning: ${formatIssue(issue)}`);
    });
    ads.on('streamError', ({ error, retryInMs }) => {
      log(`ADS stream failed (${error.message}); retrying in ${retryInMs} ms`);
    });
    const first = firstSnapshot(ads);
    ads.start();
    log('waiting for the first configuration from the ADS server');
    config = withStatic(await first, statics);
  }
  const proxy = createProxy({ config, filters });
  proxy.on('error', (error, where) => {
    log(`${where}: ${messageOf(error)}`);
  });
  const admin = createAdminServer({ proxy, bootstrap, logLevel: options.logLevel ?? 'info' });
  if (ads !== undefined) {
    ads.on('snapshot', (snapshot) => {
      proxy.update(withStatic(snapshot, statics)).then(
        () => {
          log(
            `applied a new configuration from ADS (${snapshot.listeners.size} listeners, ${snapshot.clusters.size} clusters)`,
          );
        },
        (error: unknown) => {
          log(`could not apply the configuration from ADS: ${messageOf(error)}`);
        },
      );
    });
  }
  try {
    await proxy.start();
    await admin.start();
  } catch (error) {
    ads?.close();
    await admin.close();
    await proxy.close();
    throw error;
  }
  return {
    proxy,
    admin,
    ads,
    url(listener) {
      const address = proxy.address(listener);
      if (address === undefined) throw new Error(`no listener named ${listener}`);
      return urlOf(address);
    },
    adminUrl: urlOf(admin.address() as AddressInfo),
    async close(drainMs) {
      ads?.close();
      await admin.close();
      await proxy.drain(drainMs);
      await proxy.close();
    },
  };
}
