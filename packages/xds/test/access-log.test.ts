import { describe, expect, it } from 'vitest';
import {
  TYPE_URLS,
  formatIssue,
  translateResource,
  type HttpConnectionManager,
  type TcpProxy,
} from '@meshlet/xds';

const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

function listenerWith(filter: Record<string, unknown>): unknown {
  return {
    '@type': TYPE_URLS.listener,
    name: 'l',
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{ filters: [filter] }],
  };
}

function hcm(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    name: 'hcm',
    typed_config: {
      '@type': TYPE_URLS.httpConnectionManager,
      stat_prefix: 'in',
      route_config: { name: 'r', virtual_hosts: [] },
      http_filters: [{ name: 'router', typed_config: { '@type': TYPE_URLS.router } }],
      ...extra,
    },
  };
}

function translateHcm(extra: Record<string, unknown>): { config: HttpConnectionManager; errors: string[] } {
  const out = translateResource(listenerWith(hcm(extra)));
  if (!out.ok) return { config: {} as HttpConnectionManager, errors: out.errors.map(formatIssue) };
  const filter =
    out.resource.kind === 'listener' ? out.resource.value.filterChains[0]?.filters[0] : undefined;
  return { config: (filter?.config ?? {}) as HttpConnectionManager, errors: [] };
}

describe('translate: access logs', () => {
  it('reads file, stdout and sink loggers with their formats and filters', () => {
    const { config, errors } = translateHcm({
      access_log: [
        {
          name: 'envoy.access_loggers.file',
          filter: {
            and_filter: {
              filters: [
                {
                  status_code_filter: {
                    comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } },
                  },
                },
                { not_health_check_filter: {} },
              ],
            },
          },
          typed_config: {
            '@type': FILE,
            path: '/var/log/a.log',
            log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } },
          },
        },
        {
          name: 'out',
          filter: { response_flag_filter: { flags: ['UH', 'UF'] } },
          typed_config: {
            '@type': STDOUT,
            log_format: {
              json_format: { status: '%RESPONSE_CODE%', nested: { up_host: '%UPSTREAM_HOST%' }, n: 1 },
            },
          },
        },
        {
          name: 'mine',
          filter: { duration_filter: { comparison: { op: 'LE', value: { default_value: 10 } } } },
          typed_config: {
            '@type': TYPE_URLS.typedStruct,
            type_url: 'type.googleapis.com/meshlet.access_loggers.v1.Sink',
            value: { sink: 'audit', log_format: { json_format: { request_id: '%REQ(X-REQUEST-ID)%' } } },
          },
        },
      ],
      tracing: { random_sampling: { value: 25 }, overall_sampling: { value: 50 } },
    });
    expect(errors).toEqual([]);
    expect(config.accessLog).toEqual([
      {
        name: 'envoy.access_loggers.file',
        sink: { kind: 'file', path: '/var/log/a.log' },
        format: { kind: 'text', text: '%RESPONSE_CODE%\n' },
        filter: {
          kind: 'and',
          filters: [
            { kind: 'status_code', comparison: { op: 'GE', value: 500 } },
            { kind: 'not_health_check' },
          ],
        },
      },
      {
        name: 'out',
        sink: { kind: 'stdout' },
        format: {
          kind: 'json',
          json: { status: '%RESPONSE_CODE%', nested: { up_host: '%UPSTREAM_HOST%' }, n: 1 },
          omitEmptyValues: false,
        },
        filter: { kind: 'response_flag', flags: ['UH', 'UF'] },
      },
      {
        name: 'mine',
        sink: { kind: 'sink', name: 'audit' },
        format: { kind: 'json', json: { request_id: '%REQ(X-REQUEST-ID)%' }, omitEmptyValues: false },
        filter: { kind: 'duration', comparison: { op: 'LE', value: 10 } },
      },
    ]);
    expect(config.tracing).toEqual({ clientSampling: 100, randomSampling: 25, overallSampling: 50 });
  });

  it('uses the default format when none is given, and leaves accessLog out when there is none', () => {
    const { config } = translateHcm({
      access_log: [{ name: 'f', typed_config: { '@type': FILE, path: '/tmp/x' } }],
    });
    expect(config.accessLog?.[0]?.format).toEqual({ kind: 'default' });
    expect(translateHcm({}).config.accessLog).toBeUndefined();
    expect(translateHcm({}).config.tracing).toBeUndefined();
  });

  it('reports unknown loggers, filters and flags with the field path', () => {
    const { errors } = translateHcm({
      access_log: [
        {
          name: 'grpc',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
          },
        },
        {
          name: 'f',
          filter: { runtime_filter: { runtime_key: 'x' } },
          typed_config: { '@type': FILE, path: '/tmp/x' },
        },
        {
          name: 'g',
          filter: { response_flag_filter: { flags: ['NOPE'] } },
          typed_config: { '@type': FILE },
        },
      ],
      tracing: { random_sampling: { value: 150 } },
    });
    expect(errors).toEqual([
      'listener "l" › filter_chains[0] › filters[0] › typed_config.access_log[0] › typed_config: access logger "grpc" has a type meshlet does not support: type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
      'listener "l" › filter_chains[0] › filters[0] › typed_config.access_log[1] › filter.runtime_filter: this access log filter is not supported',
      'listener "l" › filter_chains[0] › filters[0] › typed_config.access_log[2] › typed_config.path: a file access logger needs a path',
      'listener "l" › filter_chains[0] › filters[0] › typed_config.access_log[2] › filter.response_flag_filter.flags[0]: unknown response flag "NOPE"',
      'listener "l" › filter_chains[0] › filters[0] › typed_config.tracing.random_sampling.value: a percentage must be in [0, 100]',
    ]);
  });

  it('reads access logs of the TCP proxy', () => {
    const out = translateResource(
      listenerWith({
        name: 'tcp',
        typed_config: {
          '@type': TYPE_URLS.tcpProxy,
          stat_prefix: 't',
          cluster: 'c',
          access_log: [
            {
              name: 'e',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
              },
            },
          ],
        },
      }),
    );
    if (!out.ok) throw new Error(out.errors.map(formatIssue).join('\n'));
    const filter =
      out.resource.kind === 'listener' ? out.resource.value.filterChains[0]?.filters[0] : undefined;
    expect((filter?.config as TcpProxy).accessLog).toEqual([
      { name: 'e', sink: { kind: 'stderr' }, format: { kind: 'default' } },
    ]);
  });
});
