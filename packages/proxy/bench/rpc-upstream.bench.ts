// Requests per second through the RPC upstream pool (createRpcUpstreams) to a raw Bolt echo
// server in the same process, against a bare socket with the same codec and an id map (what a
// minimal hand-written client does): the difference is what the pool adds (id rewrite and
// restore, pending map, timeout entries on the wheel, batched writes).
// Each timed call sends 100 requests at once and waits for the 100 responses.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { TimerWheel } from '@meshlet/breaker';
import { ByteQueue } from '@meshlet/buffer';
import { bolt, BoltClassName, BoltFrame } from '@meshlet/codec';
import { createClusterManager, createRpcUpstreams } from '@meshlet/proxy';
import { fromEnvoy, TYPE_URLS, type Cluster } from '@meshlet/xds';
import { fmt, measure, rate, table } from '../../../bench/harness.ts';

const WINDOW = 100;

// The echo server: answers every request with an empty response of the same id.
const server = createServer((socket) => {
  socket.setNoDelay(true);
  const codec = bolt.createCodec();
  const queue = new ByteQueue();
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    socket.cork();
    for (let frame = codec.decode(queue); frame; frame = codec.decode(queue)) {
      const response = new BoltFrame({ kind: 'response', requestId: frame.requestId, body: frame.body });
      for (const part of codec.encode(response)) socket.write(part);
    }
    socket.uncork();
  });
  socket.on('error', () => undefined);
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as AddressInfo).port;

const model = fromEnvoy({
  '@type': TYPE_URLS.cluster,
  name: 'echo',
  type: 'STATIC',
  connect_timeout: '1s',
  load_assignment: {
    cluster_name: 'echo',
    endpoints: [
      {
        lb_endpoints: [
          { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } },
        ],
      },
    ],
  },
}).value as Cluster;
const manager = createClusterManager();
manager.update(new Map([['echo', model]]), new Map());
const found = manager.get('echo');
const picked = found?.pick({});
if (!found || !picked) throw new Error('no cluster');
const cluster = found;
const host = picked;

// A request frame as a downstream codec decodes it (raw bytes kept: the id is patched in place).
function requestFrame(id: number): BoltFrame {
  const frame = new BoltFrame({
    kind: 'request',
    requestId: id,
    className: BoltClassName.request,
    headers: new Map([
      ['sofa_head_target_service', 'bench.Echo:1.0'],
      ['sofa_head_method_name', 'echo'],
    ]),
    body: Buffer.alloc(64, 1),
    timeout: 3000,
  });
  const queue = new ByteQueue();
  for (const part of bolt.createCodec().encode(frame)) queue.push(part);
  const decoded = bolt.createCodec().decode(queue);
  if (!decoded) throw new Error('frame');
  return decoded;
}
const frames = Array.from({ length: WINDOW }, (_, i) => requestFrame(i + 1));

const upstreams = createRpcUpstreams({ timers: new TimerWheel({ tickMs: 10 }) });
let remaining = 0;
let done: () => void = () => undefined;
const handler = {
  onResponse(): void {
    if (--remaining === 0) done();
  },
  onFailure(failure: string, message: string): void {
    throw new Error(`${failure}: ${message}`);
  },
};
const options = { timeoutMs: 5000, oneway: false };
function throughPool(): Promise<void> {
  remaining = WINDOW;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  for (const frame of frames) upstreams.send(cluster, host, bolt, frame, options, handler);
  return finished;
}

// The baseline: one socket, the same codec, a Map from id to nothing but a count.
const bare = connect(port, '127.0.0.1');
await once(bare, 'connect');
bare.setNoDelay(true);
const bareCodec = bolt.createCodec();
const bareQueue = new ByteQueue();
const barePending = new Map<number, number>();
let bareNext = 1;
let bareRemaining = 0;
let bareDone: () => void = () => undefined;
bare.on('data', (chunk: Buffer) => {
  bareQueue.push(chunk);
  for (let frame = bareCodec.decode(bareQueue); frame; frame = bareCodec.decode(bareQueue)) {
    if (barePending.delete(frame.requestId) && --bareRemaining === 0) bareDone();
  }
});
function bareSocket(): Promise<void> {
  bareRemaining = WINDOW;
  const finished = new Promise<void>((resolve) => {
    bareDone = resolve;
  });
  bare.cork();
  for (const frame of frames) {
    const id = bareNext++ & 0x7fffffff || 1;
    barePending.set(id, frame.requestId);
    for (const part of bareCodec.withRequestId(frame, id)) bare.write(part);
  }
  bare.uncork();
  return finished;
}

// 2 s per task: the pool runs more code than the bare loop and needs the longer warm-up to be
// compiled; shorter runs measure the JIT more than the pool.
const [baseline, pool] = await measure(
  [
    { name: 'bare socket + codec', fn: bareSocket },
    { name: 'RPC upstream pool', fn: throughPool },
  ],
  2000,
);
if (!pool || !baseline) throw new Error('no results');
table(
  `Bolt requests through the RPC upstream pool, ${WINDOW} in flight, loopback echo server (higher is better)`,
  [
    {
      path: 'bare socket + codec (baseline)',
      'requests/s': rate(baseline.hz * WINDOW),
      'µs per 100': fmt(baseline.meanNs / 1e3, 1),
    },
    {
      path: 'createRpcUpstreams',
      'requests/s': rate(pool.hz * WINDOW),
      'µs per 100': fmt(pool.meanNs / 1e3, 1),
    },
  ],
);

await upstreams.close();
bare.destroy();
await manager.close();
server.close();
