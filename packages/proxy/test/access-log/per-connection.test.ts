import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { AccessLogs, type ConnectionInfo, type ResponseFlag, type StreamInfo } from '../../src/index.js';

// The TCP proxy calls `connectionClosed(connection, info)` once per connection; this drives the
// access log observer through that contract as the TCP proxy does.
const connection: ConnectionInfo = {
  id: 42,
  listenerName: 'tcp',
  remoteAddress: '::1',
  remotePort: 50000,
  localAddress: '::1',
  localPort: 6379,
  tls: true,
  serverName: 'redis.internal',
  alpnProtocol: undefined,
};

function info(flags: ResponseFlag[] = []): StreamInfo {
  return {
    startTime: 1000,
    startTimeUnixMs: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
    responseFlags: new Set(flags),
    responseCodeDetails: '',
    upstreamCluster: 'redis',
    upstreamHost: '127.0.0.1:7000',
    attempts: 1,
    bytesReceived: 120,
    bytesSent: 3400,
    endTime: 1250.4,
  };
}

describe('access logs of a TCP proxy (per connection)', () => {
  it('writes one line per closed connection, with the connection and upstream fields', async () => {
    const lines: string[] = [];
    const logs = new AccessLogs({ sinks: { s: (l) => void lines.push(...l) } }, (e: unknown) => {
      throw e;
    });
    const accessLog: model.AccessLog[] = [
      {
        name: 'tcp',
        sink: { kind: 'sink', name: 's' },
        format: {
          kind: 'text',
          text: '[%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%] %CONNECTION_ID% %DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %REQUESTED_SERVER_NAME% %UPSTREAM_CLUSTER% %UPSTREAM_HOST% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESPONSE_FLAGS% %PROTOCOL% %REQ(:PATH)% %RESPONSE_CODE%',
        },
      },
      {
        name: 'failures',
        sink: { kind: 'sink', name: 's' },
        format: {
          kind: 'json',
          json: { flags: '%RESPONSE_FLAGS%', host: '%UPSTREAM_HOST%' },
          omitEmptyValues: false,
        },
        filter: { kind: 'response_flag', flags: ['UF'] },
      },
    ];
    const observer = logs.forChain({
      listenerName: 'tcp',
      chainName: 'default',
      kind: 'tcp',
      statPrefix: 'tcp',
      filter: {
        name: 'envoy.filters.network.tcp_proxy',
        kind: 'tcp_proxy',
        config: { statPrefix: 'tcp', cluster: 'redis', maxConnectAttempts: 1, accessLog },
      },
    });
    if (observer === null) throw new Error('no observer');
    observer.connectionOpened(connection);
    observer.connectionClosed(connection, info());
    observer.connectionClosed(connection, info(['UF', 'URX']));
    await logs.close();
    expect(lines).toEqual([
      '[2026-01-02T03:04:05.678Z] 42 [::1]:50000 [::1]:6379 redis.internal redis 127.0.0.1:7000 120 3400 250 - - - 0',
      '[2026-01-02T03:04:05.678Z] 42 [::1]:50000 [::1]:6379 redis.internal redis 127.0.0.1:7000 120 3400 250 UF,URX - - 0',
      '{"flags":"UF,URX","host":"127.0.0.1:7000"}',
    ]);
  });

  it('watches no chain without access_log entries', () => {
    const logs = new AccessLogs({}, () => undefined);
    expect(
      logs.forChain({
        listenerName: 'tcp',
        chainName: 'default',
        kind: 'tcp',
        statPrefix: 'tcp',
        filter: {
          name: 'tcp',
          kind: 'tcp_proxy',
          config: { statPrefix: 'tcp', cluster: 'redis', maxConnectAttempts: 1 },
        },
      }),
    ).toBeNull();
  });
});
