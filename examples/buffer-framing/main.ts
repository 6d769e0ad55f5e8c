// A length-prefixed protocol over a loopback TCP connection, both ends built on @meshlet/buffer:
// frames are `u32 length | u32 sequence | payload`, sent in chunks that ignore frame boundaries.
// The server decodes them with a ByteQueue and answers each with `u32 length | u32 sequence |
// u32 byte sum`, encoded into pooled buffers and flushed with one vectored write per read.
import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { BufferPool, ByteQueue, WriteBatch } from '@meshlet/buffer';

const FRAMES = Number(process.env.FRAMES ?? 20_000);
const pool = new BufferPool();
let batches = 0;

function sum(bytes: Uint8Array): number {
  let total = 0;
  for (const b of bytes) total = (total + b) >>> 0;
  return total;
}

/** Calls `onFrame` for every complete frame in `queue`; leaves a partial frame for later. */
function drainFrames(queue: ByteQueue, onFrame: (sequence: number, payload: Buffer) => void): void {
  while (queue.length >= 8) {
    const length = queue.readUInt32BE(0);
    if (queue.length < 8 + length) return;
    const sequence = queue.readUInt32BE(4);
    queue.skip(8);
    onFrame(sequence, queue.take(length));
  }
}

function serve(socket: Socket): void {
  const queue = new ByteQueue();
  const out = new WriteBatch(socket, { autoFlush: false });
  socket.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    drainFrames(queue, (sequence, payload) => {
      const reply = pool.acquire(12);
      reply.writeUInt32BE(4, 0);
      reply.writeUInt32BE(sequence, 4);
      reply.writeUInt32BE(sum(payload), 8);
      // Back to the pool once the socket has written it: the socket copies nothing.
      out.write(reply, pool);
    });
    // All replies to one read go out in one writev.
    if (out.pendingCount > 0) {
      batches++;
      out.flush();
    }
  });
}

const server = createServer(serve).listen(0, '127.0.0.1');
await once(server, 'listening');
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');

const client = createConnection(address.port, '127.0.0.1');
await once(client, 'connect');

const expected: number[] = [];
const frames: Buffer[] = [];
for (let i = 0; i < FRAMES; i++) {
  const payload = Buffer.alloc(16 + ((i * 7919) % 2000), i & 0xff);
  const header = Buffer.allocUnsafe(8);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(i, 4);
  frames.push(header, payload);
  expected.push(sum(payload));
}
const stream = Buffer.concat(frames);

const started = performance.now();
const replies = new ByteQueue();
let received = 0;
let wrong = 0;
const finished = new Promise<void>((resolve) => {
  client.on('data', (chunk: Buffer) => {
    replies.push(chunk);
    drainFrames(replies, (sequence, payload) => {
      if (payload.readUInt32BE(0) !== expected[sequence]) wrong++;
      if (++received === FRAMES) resolve();
    });
  });
});
// Cut the stream at odd places, as TCP would.
for (let at = 0, step = 1; at < stream.length; at += step, step = (step * 31 + 7) % 9000 || 1) {
  client.write(stream.subarray(at, at + step));
}
await finished;
const ms = performance.now() - started;

client.end();
server.close();
const stats = pool.stats();
console.log(
  [
    `sent ${FRAMES} frames (${(stream.length / (1 << 20)).toFixed(1)} MiB) in chunks that split them anywhere;`,
    `the server decoded every one and answered in ${batches} vectored writes;`,
    `${received} replies checked, ${wrong} wrong, in ${ms.toFixed(0)} ms.`,
    `reply buffers: ${stats.hits + stats.misses} acquired, ${stats.misses} allocated, reuse rate ${(stats.reuseRate * 100).toFixed(1)} %.`,
  ].join('\n'),
);
if (wrong > 0 || received !== FRAMES) process.exit(1);
