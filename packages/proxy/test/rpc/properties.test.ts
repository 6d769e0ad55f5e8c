// Properties of the RPC proxy's downstream half: however a client's bytes are cut into TCP
// chunks, and whatever heartbeats are mixed in, every request gets its own answer, paired by id.
import { Buffer } from 'node:buffer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteQueue, type Frame } from '@meshlet/codec';
import { once } from 'node:events';
import net from 'node:net';
import { type ServedRpc, serveRpc } from './harness.js';
import { encodeMini, mini, miniRequest, startMiniServer } from './mini-protocol.js';
import { rpcProxyFilter, rpcRoute } from './peers.js';

let served: ServedRpc;
let server: Awaited<ReturnType<typeof startMiniServer>>;
beforeAll(async () => {
  server = await startMiniServer((f) => `${f.method}:${f.body.toString()}`);
  served = await serveRpc(rpcProxyFilter({ protocol: 'mini', routes: [rpcRoute('up')] }), {
    clusters: { up: [server.port] },
    protocols: [mini],
  });
});
afterAll(async () => {
  await served.close();
  await server.close();
});

/** Sends `bytes` in `cuts` pieces and collects frames until `expected` have come back. */
async function exchange(bytes: Buffer, cuts: number[], expected: number): Promise<Frame[]> {
  const socket = net.connect(served.port, '127.0.0.1');
  await once(socket, 'connect');
  const codec = mini.createCodec();
  const queue = new ByteQueue();
  const frames: Frame[] = [];
  const done = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      for (let f = codec.decode(queue); f !== null; f = codec.decode(queue)) frames.push(f);
      if (frames.length >= expected) resolve();
    });
  });
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= bytes.length) continue;
    socket.write(bytes.subarray(at, cut));
    at = cut;
  }
  socket.write(bytes.subarray(at));
  await done;
  socket.destroy();
  return frames;
}

it('answers every request and heartbeat once, by id, whatever the chunking', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ heartbeat: fc.boolean(), body: fc.string({ maxLength: 40 }) }), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.array(fc.nat(4000), { maxLength: 20 }),
      async (calls, cuts) => {
        const frames = calls.map((c, i) => {
          const f = miniRequest(i + 1, 'svc', `m${i}`, c.body);
          if (c.heartbeat) f.kind = 'heartbeat';
          return f;
        });
        const bytes = Buffer.concat(frames.flatMap((f) => encodeMini(f)));
        const answers = await exchange(bytes, cuts, frames.length);
        const byId = new Map(answers.map((a) => [a.requestId, a]));
        expect(byId.size).toBe(frames.length);
        for (const f of frames) {
          const a = byId.get(f.requestId);
          if (f.kind === 'heartbeat') expect(a?.kind).toBe('heartbeat-reply');
          else
            expect([a?.kind, a?.body.toString()]).toEqual(['response', `${f.method}:${f.body.toString()}`]);
        }
      },
    ),
    { numRuns: 40 },
  );
});
