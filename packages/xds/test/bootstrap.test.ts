import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BootstrapError,
  XdsTranslationError,
  adsServerAddress,
  formatIssue,
  loadBootstrap,
  parseBootstrap,
  validate,
} from '@meshlet/xds';

const path = new URL('./fixtures/bootstrap.yaml', import.meta.url).pathname;

describe('loadBootstrap', () => {
  it('reads node, admin, static resources and the ADS config of a YAML file', () => {
    const { bootstrap, warnings } = loadBootstrap(path);
    expect(warnings).toEqual([]);
    expect(bootstrap.node).toEqual({
      id: 'shop-1',
      cluster: 'shop',
      metadata: { team: 'payments' },
      userAgentName: 'meshlet',
      locality: { region: 'eu-west-1', zone: 'eu-west-1a', subZone: '' },
    });
    expect(bootstrap.admin).toEqual({
      address: { socketAddress: { address: '127.0.0.1', port: 9901, protocol: 'TCP' } },
    });
    expect(
      bootstrap.staticResources.clusters.map((c) => [c.name, c.type, c.upstreamHttpProtocolOptions.protocol]),
    ).toEqual([['xds', 'STATIC', 'http2']]);
    expect(bootstrap.dynamicResources).toEqual({
      lds: true,
      cds: true,
      initialFetchTimeoutMs: 15_000,
      ads: { apiType: 'GRPC', clusterName: 'xds' },
    });
    expect(adsServerAddress(bootstrap)).toBe('127.0.0.1:18000');
    expect(validate(bootstrap)).toEqual([]);
  });

  it('reads the same bootstrap from JSON in camelCase', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshlet-xds-'));
    const file = join(dir, 'bootstrap.json');
    writeFileSync(
      file,
      JSON.stringify({
        node: { id: 'n', cluster: 'c' },
        staticResources: {
          clusters: [
            {
              name: 'xds',
              type: 'STATIC',
              connectTimeout: '1s',
              loadAssignment: {
                clusterName: 'xds',
                endpoints: [
                  {
                    lbEndpoints: [
                      { endpoint: { address: { socketAddress: { address: '::1', portValue: 18000 } } } },
                    ],
                  },
                ],
              },
            },
          ],
        },
        dynamicResources: {
          adsConfig: { apiType: 'GRPC', grpcServices: [{ envoyGrpc: { clusterName: 'xds' } }] },
          cdsConfig: { ads: {} },
        },
      }),
    );
    const { bootstrap } = loadBootstrap(file);
    expect(bootstrap.dynamicResources?.cds).toBe(true);
    expect(bootstrap.dynamicResources?.lds).toBe(false);
    expect(adsServerAddress(bootstrap)).toBe('[::1]:18000');
  });

  it('throws BootstrapError for unreadable or unparsable files', () => {
    expect(() => loadBootstrap('/nonexistent/bootstrap.yaml')).toThrow(BootstrapError);
    expect(() => parseBootstrap('node: [unclosed')).toThrow(BootstrapError);
    expect(() => parseBootstrap('- just a list')).toThrow(BootstrapError);
  });

  it('throws an XdsTranslationError listing every problem', () => {
    let err: unknown;
    try {
      parseBootstrap({
        node: { id: 'n' },
        static_resources: { clusters: [{ name: 'a', connect_timeout: 'soon' }] },
        dynamic_resources: {
          ads_config: { api_type: 'REST', grpc_services: [] },
          lds_config: { path: '/etc/lds.yaml' },
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XdsTranslationError);
    expect((err as XdsTranslationError).issues.map(formatIssue)).toEqual([
      'bootstrap › static_resources.clusters[0] › connect_timeout: expected a duration such as "1.5s", got "soon"',
    ]);
    try {
      parseBootstrap({
        node: { id: 'n' },
        dynamic_resources: {
          ads_config: { api_type: 'REST' },
          lds_config: { path: '/etc/lds.yaml' },
          cds_config: { ads: {} },
        },
      });
    } catch (e) {
      err = e;
    }
    expect((err as XdsTranslationError).issues.map(formatIssue)).toEqual([
      'bootstrap › dynamic_resources.lds_config: only ADS config sources are supported (ads: {})',
      'bootstrap › dynamic_resources.ads_config.api_type: api_type REST is not supported (GRPC or DELTA_GRPC)',
    ]);
  });
});
