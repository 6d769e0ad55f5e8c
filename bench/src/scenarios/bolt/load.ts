// The Bolt scenario's load generator, a process of its own: `--connections` TCP connections to
// `--port`, each keeping `--in-flight` SOFARPC requests outstanding, multiplexed by request id
// (as a SOFARPC client multiplexes). The frames are sofa-bolt-node's (wire.ts), re-sent with a
// fresh id, so the generator spends its CPU on sockets, not on Hessian. With `--client sofa` each
// connection is instead a sofa-bolt-node `RpcClient` and every call goes through its `invoke()`
// (Hessian 2 encode and decode per call, as an application's calls do). After `--warmup` seconds
// it measures for `--seconds`, then prints one JSON line (load/report.ts).
//
//   node bench/src/scenarios/bolt/load.ts --port 9000 --connections 8 --in-flight 16 --seconds 5
//   node bench/src/scenarios/bolt/load.ts --port 9000 --client sofa
import { createRequire } from 'node:module';
import net from 'node:net';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { LoadRecorder, printReport } from '../load/report.ts';
import { BoltFrameReader, REQUEST, SERVICE, withId } from './wire.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '8' },
    'in-flight': { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    client: { type: 'string', default: 'frames' },
  },
});
if (values.client !== 'frames' && values.client !== 'sofa')
  throw new Error(`--client is frames or sofa, not ${values.client}`);
if (values.port === undefined) throw new Error('--port is required');
const port = Number(values.port);
const connections = Number(values.connections);
const inFlight = Number(values['in-flight']);
const DRAIN_MS = 3000;

const now = (): number => performance.now();
const start = now() + Number(values.warmup) * 1000;
const recorder = new LoadRecorder(start, start + Number(values.seconds) * 1000);

/** One connection's loop: resolves when its calls are all answered after the deadline. */
function connection(): Promise<void> {
  return new Promise((resolve) => {
    const socket: Socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    // Send time by request id; ids are per connection, so a small ring of slots is enough.
    const sentAt = new Float64Array(inFlight * 4);
    const live = new Uint8Array(inFlight * 4);
    let nextId = 0;
    let outstanding = 0;
    let done = false;
    const finish = (failed: number): void => {
      if (done) return;
      done = true;
      recorder.failed(failed);
      socket.destroy();
      resolve();
    };
    const send = (): void => {
      // A slot is reused only once its previous call has been answered.
      let id = nextId;
      while (live[id % live.length] === 1) id++;
      nextId = id + 1;
      const slot = id % live.length;
      live[slot] = 1;
      sentAt[slot] = now();
      outstanding++;
      socket.write(withId(REQUEST, id));
    };
    const reader = new BoltFrameReader((id, isResponse, status) => {
      const slot = id % live.length;
      if (!isResponse || live[slot] !== 1) {
        finish(outstanding + 1);
        return;
      }
      live[slot] = 0;
      outstanding--;
      const t = now();
      if (status === 0) recorder.completed(sentAt[slot] as number, t);
      else recorder.failed();
      if (t < recorder.end) send();
      else if (outstanding === 0) finish(0);
    });
    socket.on('connect', () => {
      socket.cork();
      for (let i = 0; i < inFlight; i++) send();
      socket.uncork();
    });
    socket.on('data', (chunk: Buffer) => {
      socket.cork();
      reader.push(chunk);
      socket.uncork();
    });
    socket.on('error', () => {
      finish(Math.max(1, outstanding));
    });
    socket.on('close', () => {
      finish(outstanding);
    });
    setTimeout(
      () => {
        finish(outstanding);
      },
      recorder.end - now() + DRAIN_MS,
    ).unref();
  });
}

// sofa-bolt-node is CommonJS without types: the parts used here.
interface RpcClient {
  ready(): Promise<void>;
  invoke(req: {
    serverSignature: string;
    methodName: string;
    args: unknown[];
    timeout: number;
  }): Promise<{ data: { error?: Error | null } }>;
  close(): Promise<void>;
}
type RpcClientClass = new (options: { address: URL; logger: Record<string, () => void> }) => RpcClient;

/** One sofa-bolt-node client: `--in-flight` call loops on its connection. */
async function sofaConnection(): Promise<void> {
  const { RpcClient } = createRequire(import.meta.url)('sofa-bolt-node') as { RpcClient: RpcClientClass };
  const quiet = (): void => undefined;
  const client = new RpcClient({
    address: new URL(`bolt://127.0.0.1:${port}`),
    logger: { info: quiet, warn: quiet, error: quiet, debug: quiet },
  });
  await client.ready();
  const loop = async (): Promise<void> => {
    while (now() < recorder.end) {
      const sentAt = now();
      try {
        const res = await client.invoke({
          serverSignature: SERVICE,
          methodName: 'hello',
          args: ['meshlet'],
          timeout: 3000,
        });
        if (res.data.error) recorder.failed();
        else recorder.completed(sentAt, now());
      } catch {
        recorder.failed();
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  await client.close();
}

await Promise.all(
  Array.from({ length: connections }, values.client === 'sofa' ? sofaConnection : connection),
);
printReport(recorder.report());
