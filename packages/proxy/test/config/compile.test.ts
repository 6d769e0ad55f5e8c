// Config the proxy cannot apply is a ConfigError naming where it is — never a silent fallback.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { ConfigError, createProxy } from '../../src/index.js';
import {
  chainMatch,
  cluster,
  filterChain,
  hcm,
  listener,
  route,
  routeAction,
  routeConfig,
  snapshot,
  virtualHost,
} from '../e2e/helpers.js';

const routes = routeConfig('rc', [virtualHost('all', ['*'], [route('r', { route: routeAction('a') })])]);
const chain = (more: Parameters<typeof filterChain>[1] = {}) =>
  filterChain(hcm({ routeConfig: routes }), more);
const tls: model.DownstreamTls = {
  certificates: [
    { certificateChain: { inlineString: 'not a certificate' }, privateKey: { inlineString: 'not a key' } },
  ],
  alpnProtocols: [],
  requireClientCertificate: false,
};

const fixture = (name: string): string =>
  readFileSync(new URL(`../e2e/fixtures/${name}`, import.meta.url), 'utf8');
const goodTls: model.DownstreamTls = {
  ...tls,
  certificates: [
    {
      certificateChain: { inlineString: fixture('alpha.crt') },
      privateKey: { inlineString: fixture('alpha.key') },
    },
  ],
};

function fails(listeners: model.Listener[], message: RegExp): void {
  const config = snapshot({ listeners, clusters: [cluster('a', [1])] });
  let error: unknown;
  try {
    createProxy({ config });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(message);
}

describe('listener config errors', () => {
  it('rejects pipe addresses and original_dst', () => {
    fails(
      [listener('p', [chain()], 0, { address: { pipe: { path: '/tmp/x.sock' } } })],
      /listener "p": pipe addresses are not supported/,
    );
    fails(
      [
        listener('o', [chain()], 0, {
          listenerFilters: [{ name: 'envoy.filters.listener.original_dst', kind: 'original_dst' }],
        }),
      ],
      /listener "o": listener filter .* \(original_dst\) is not supported/,
    );
  });

  it('rejects filter chain matches it cannot apply', () => {
    fails(
      [listener('m', [chain({ filterChainMatch: chainMatch({ destinationPort: 443 }) })])],
      /filter_chain_match.destination_port not supported/,
    );
    fails(
      [listener('m', [chain({ filterChainMatch: chainMatch({ transportProtocol: 'tls' }) })])],
      /transport_protocol "tls" on a chain without TLS/,
    );
  });

  it('rejects chains without exactly one terminal network filter', () => {
    const tcp: model.NetworkFilter = {
      name: 'envoy.filters.network.tcp_proxy',
      kind: 'tcp_proxy',
      config: { statPrefix: 't', cluster: 'a', maxConnectAttempts: 1 },
    };
    const [hcmFilter] = chain().filters;
    fails(
      [listener('t', [chain({ filters: [tcp, hcmFilter as model.NetworkFilter] })])],
      /one terminal network filter per filter chain: http_connection_manager, tcp_proxy or rpc_proxy \(got: tcp_proxy, http_connection_manager\)/,
    );
    fails([listener('t', [chain({ filters: [] })])], /\(got: none\)/);
  });

  it('rejects bad certificates, and TLS mixed with cleartext', () => {
    fails([listener('c', [chain({ tls })])], /listener "c" filter_chain "default": bad certificate or key/);
    fails(
      [
        listener('x', [
          chain({ name: 'plain' }),
          chain({
            name: 'secure',
            tls: goodTls,
            filterChainMatch: chainMatch({ serverNames: ['a.example'] }),
          }),
        ]),
      ],
      /listener "x": mixes TLS and cleartext filter chains/,
    );
  });

  it('rejects two listeners on one fixed address, and a listener without chains', () => {
    fails(
      [listener('one', [chain()], 18080), listener('two', [chain()], 18080)],
      /address 127.0.0.1:18080 is also listener "one"'s/,
    );
    fails([listener('empty', [])], /listener "empty": no filter chains/);
  });

  it('rejects a user filter named like a built-in', () => {
    const config = snapshot({ listeners: [listener('l', [chain()])], clusters: [cluster('a', [1])] });
    const impostor = { name: 'rbac', configure: () => ({}) };
    expect(() => createProxy({ config, filters: [impostor] })).toThrow(/"rbac" is already a filter's name/);
  });
});
