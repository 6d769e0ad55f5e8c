// The TCP proxy against a raw relay (`net` + `socket.pipe` both ways) and against no relay at
// all, one process on loopback (client, relay and upstream share one Node thread, so a relay's
// cost shows as lost throughput):
//   - throughput: one connection streams BULK bytes of 64 KiB writes to a sink upstream, which
//     answers one byte when it has them all (MB/s, end to end);
//   - round trips: CONNECTIONS connections each send a 64-byte request and wait for the 64-byte
//     echo before the next, for DURATION_MS (round trips per second, all connections together).
// Runs alternate (direct, raw, meshlet, raw, meshlet...) and the median of ROUNDS is reported.
//
//   node packages/proxy/bench/tcp.bench.ts            5 rounds, 256 MiB, 3 s of round trips
//   node packages/proxy/bench/tcp.bench.ts --quick    3 rounds, 64 MiB, 1 s
//   node packages/proxy/bench/tcp.bench.ts --smoke    1 round, 4 MiB, 0.1 s
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { createProxy } from '@meshlet/proxy';
import type * as model from '@meshlet/xds';
import { fmt, quick, smoke, table } from '../../../bench/harness.ts';
import { cluster, listener, snapshot } from '../test/e2e/helpers.ts';

const MB = 1024 * 1024;
const BULK = smoke ? 4 * MB : quick ? 64 * MB : 256 * MB;
const DURATION_MS = smoke ? 100 : quick ? 1_000 : 3_000;
const ROUNDS = smoke ? 1 : quick ? 3 : 5;
const CONNECTIONS = 8;
const MESSAGE = Buffer.alloc(64, 120);

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

// The upstreams: a sink that answers one byte once BULK bytes arrived, and an echo server.
const sink = net.createServer((socket) => {
  let got = 0;
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= BULK) {
      got -= BULK;
      socket.write('k');
    }
  });
  socket.on('error', () => undefined);
});
const echo = net.createServer((socket) => {
  socket.on('error', () => undefined);
  socket.pipe(socket);
});
const sinkPort = await listen(sink);
const echoPort = await listen(echo);

/** The raw relay: what a hand-written Node TCP forwarder does. */
function rawRelay(target: number): net.Server {
  return net.createServer({ noDelay: true }, (downstream) => {
    const upstream = net.connect({ port: target, host: '127.0.0.1', noDelay: true });
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on('error', () => upstream.destroy());
    upstream.on('error', () => downstream.destroy());
  });
}
const rawSinkPort = await listen(rawRelay(sinkPort));
const rawEchoPort = await listen(rawRelay(echoPort));

function tcpChain(clusterName: string): model.FilterChain {
  return {
    name: clusterName,
    filterChainMatch: {
      prefixRanges: [],
      serverNames: [],
      transportProtocol: '',
      applicationProtocols: [],
      sourceType: 'ANY',
      sourcePrefixRanges: [],
      directSourcePrefixRanges: [],
      sourcePorts: [],
    },
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        kind: 'tcp_proxy',
        config: {
          statPrefix: clusterName,
          cluster: clusterName,
          maxConnectAttempts: 1,
          idleTimeoutMs: 3_600_000,
        },
      },
    ],
  };
}
const proxy = createProxy({
  config: snapshot({
    listeners: [listener('sink', [tcpChain('sink')]), listener('echo', [tcpChain('echo')])],
    clusters: [cluster('sink', [sinkPort]), cluster('echo', [echoPort])],
  }),
});
await proxy.start();
const meshletSinkPort = proxy.address('sink')?.port ?? 0;
const meshletEchoPort = proxy.address('echo')?.port ?? 0;

async function connect(port: number): Promise<Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/** MB/s of one connection streaming BULK bytes through `port` to the sink. */
async function throughput(port: number): Promise<number> {
  const socket = await connect(port);
  const chunk = Buffer.alloc(64 * 1024, 97);
  const done = once(socket, 'data');
  const started = performance.now();
  let sent = 0;
  while (sent < BULK) {
    sent += chunk.length;
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  socket.destroy();
  return BULK / MB / seconds;
}

/** Round trips per second of CONNECTIONS ping-pong connections through `port` to the echo server. */
async function roundTrips(port: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, () => connect(port)));
  let count = 0;
  let running = true;
  const started = performance.now();
  const loops = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        let got = 0;
        socket.on('data', (chunk: Buffer) => {
          got += chunk.length;
          if (got < MESSAGE.length) return;
          got -= MESSAGE.length;
          count++;
          if (running) socket.write(MESSAGE);
          else resolve();
        });
        socket.write(MESSAGE);
      }),
  );
  await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
  running = false;
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(loops);
  for (const s of sockets) s.destroy();
  return count / seconds;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

const relays = [
  { name: 'direct (no relay)', sink: sinkPort, echo: echoPort },
  { name: 'raw relay (net + pipe)', sink: rawSinkPort, echo: rawEchoPort },
  { name: 'meshlet tcp_proxy', sink: meshletSinkPort, echo: meshletEchoPort },
];
const results = relays.map(() => ({ mbs: [] as number[], rts: [] as number[] }));
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, relay] of relays.entries()) {
    results[i]?.mbs.push(await throughput(relay.sink));
    results[i]?.rts.push(await roundTrips(relay.echo));
  }
}
const raw = results[1] ?? { mbs: [1], rts: [1] };
table(
  `TCP proxy vs a raw pipe relay, one process, loopback (median of ${String(ROUNDS)}; higher is better)`,
  relays.map((relay, i) => {
    const r = results[i] ?? { mbs: [0], rts: [0] };
    return {
      path: relay.name,
      [`throughput, ${String(BULK / MB)} MiB one way`]: `${fmt(median(r.mbs))} MB/s`,
      'MB/s vs raw': `${fmt(median(r.mbs) / median(raw.mbs), 2)}x`,
      [`round trips/s (${String(CONNECTIONS)} conns, 64 B)`]: fmt(median(r.rts)),
      'round trips vs raw': `${fmt(median(r.rts) / median(raw.rts), 2)}x`,
    };
  }),
);

await proxy.close();
sink.close();
echo.close();
process.exit(0);
