// Stats and access logs of the network paths, end to end: a real sofa-bolt-node client and server
// through an rpc_proxy, and a TCP client through a tcp_proxy, then the proxy's own Prometheus
// output, `/stats` text and access log lines checked.
import { afterEach, describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { createProxy } from '../../src/index.js';
import { cluster, listener, snapshot } from '../e2e/helpers.js';
import { boltClient, boltRequest, rpcProxyFilter, rpcRoute, startBoltServer } from '../rpc/peers.js';
import { connect, readAll, startEchoServer, tcpChain, tcpProxy } from '../tcp/helpers.js';
import { chainMatch } from '../e2e/helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SERVICE = 'com.acme.Greeter:1.0';

/** An access logger writing `format` lines to the user sink `lines`. */
function sinkLog(format: string): model.AccessLog {
  return { name: 'test', sink: { kind: 'sink', name: 'lines' }, format: { kind: 'text', text: format } };
}

/** The value of one flat stat in `/stats` text (`name: value`). */
function flat(text: string, name: string): string | undefined {
  for (const line of text.split('\n')) if (line.startsWith(`${name}: `)) return line.slice(name.length + 2);
  return undefined;
}

describe('observability of the network paths', () => {
  it('Bolt through rpc_proxy: protocol stats, the cluster’s upstream stats, one access log line per request', async () => {
    const server = await startBoltServer();
    cleanups.push(() => server.close());
    const lines: string[] = [];
    const config = rpcProxyFilter({
      protocol: 'bolt',
      statPrefix: 'greeter_rpc',
      routes: [rpcRoute('greeter')],
      accessLog: [sinkLog('%PROTOCOL% %REQ(:AUTHORITY)% %RESPONSE_CODE% %UPSTREAM_CLUSTER%')],
    });
    const chain: model.FilterChain = { name: 'rpc', filterChainMatch: chainMatch(), filters: [config] };
    const proxy = createProxy({
      config: snapshot({
        listeners: [listener('rpc', [chain])],
        clusters: [cluster('greeter', [server.port])],
      }),
      accessLogs: { sinks: { lines: (batch) => void lines.push(...batch) } },
    });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const client = await boltClient(proxy.address('rpc')?.port ?? 0);
    cleanups.push(() => client.close());
    for (let i = 0; i < 5; i++) await client.invoke(boltRequest(SERVICE, 'hello', i));

    const store = proxy.stats;
    expect(store).not.toBeNull();
    const text = store?.text() ?? '';
    expect(flat(text, 'bolt.greeter_rpc.request')).toBe('5');
    expect(flat(text, 'bolt.greeter_rpc.response_success')).toBe('5');
    expect(flat(text, 'cluster.greeter.upstream_rq_total')).toBe('5');
    expect(flat(text, 'cluster.greeter.upstream_rq_2xx')).toBe('5');
    expect(flat(text, 'cluster.greeter.upstream_cx_total')).toBe('1');
    expect(store?.prometheus()).toContain('envoy_cluster_upstream_rq_total{envoy_cluster_name="greeter"} 5');

    await client.close();
    await proxy.close(); // flushes the access log
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe(`bolt ${SERVICE} 200 greeter`);
  });

  it('TCP through tcp_proxy: byte counters and the per-connection access log line', async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const lines: string[] = [];
    const config = tcpProxy({
      statPrefix: 'echo_tcp',
      cluster: 'echo',
      accessLog: [sinkLog('%UPSTREAM_CLUSTER% %BYTES_RECEIVED% %BYTES_SENT%')],
    });
    const proxy = createProxy({
      config: snapshot({
        listeners: [listener('tcp', [tcpChain(config)])],
        clusters: [cluster('echo', [echo.port])],
      }),
      accessLogs: { sinks: { lines: (batch) => void lines.push(...batch) } },
    });
    cleanups.push(() => proxy.close());
    await proxy.start();
    const socket = await connect(proxy.address('tcp')?.port ?? 0);
    const received = readAll(socket);
    socket.end('hello, tcp');
    expect((await received).toString()).toBe('hello, tcp');
    await new Promise((resolve) => setImmediate(resolve));

    const text = proxy.stats?.text() ?? '';
    expect(flat(text, 'tcp.echo_tcp.downstream_cx_total')).toBe('1');
    expect(flat(text, 'tcp.echo_tcp.downstream_cx_rx_bytes_total')).toBe('10');
    expect(flat(text, 'tcp.echo_tcp.downstream_cx_tx_bytes_total')).toBe('10');
    expect(flat(text, 'cluster.echo.upstream_cx_total')).toBe('1');

    await proxy.close();
    expect(lines).toEqual(['echo 10 10']);
  });
});
