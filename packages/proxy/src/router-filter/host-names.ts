import type { Host } from '@meshlet/lb';
import type * as model from '@meshlet/xds';
import { isIP } from 'node:net';

/** Hostnames of one cluster config: by `address:port` (IP endpoints), and by port (a DNS name alone on its port). */
interface HostNames {
  readonly byKey: Map<string, string>;
  readonly byPort: Map<number, string | null>;
}

const cache = new WeakMap<model.Cluster, HostNames>();

function compile(cluster: model.Cluster): HostNames {
  const byKey = new Map<string, string>();
  const byPort = new Map<number, string | null>();
  const dns = cluster.type === 'STRICT_DNS' || cluster.type === 'LOGICAL_DNS';
  for (const group of cluster.loadAssignment?.endpoints ?? []) {
    for (const endpoint of group.lbEndpoints) {
      const address = endpoint.address;
      if (!('socketAddress' in address)) continue;
      const { address: name, port } = address.socketAddress;
      const literal = isIP(name) !== 0;
      const hostname = endpoint.hostname !== '' ? endpoint.hostname : dns && !literal ? name : '';
      if (hostname === '') continue;
      if (literal) byKey.set(`${name}:${port}`, hostname);
      // Resolved hosts carry their address, not their name: a name is found by its port, when
      // no other name shares that port.
      else byPort.set(port, byPort.has(port) && byPort.get(port) !== hostname ? null : hostname);
    }
  }
  return { byKey, byPort };
}

/**
 * The hostname of a picked host for `auto_host_rewrite`, as Envoy's `host->hostname()`: the
 * endpoint's `hostname`, else the DNS name of a STRICT_DNS / LOGICAL_DNS endpoint; `undefined`
 * when there is none (then Envoy leaves the authority alone). Compiled once per cluster config.
 */
export function hostnameOf(cluster: model.Cluster, host: Host): string | undefined {
  let names = cache.get(cluster);
  if (names === undefined) {
    names = compile(cluster);
    cache.set(cluster, names);
  }
  return names.byKey.get(host.key) ?? names.byPort.get(host.port) ?? undefined;
}
