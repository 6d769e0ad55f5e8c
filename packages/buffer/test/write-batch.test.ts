import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BufferPool,
  ConfigError,
  InvalidArgumentError,
  StreamClosedError,
  WriteBatch,
} from '../src/index.js';

interface Peer {
  readonly client: net.Socket;
  /** The server's end of the connection. */
  readonly remote: net.Socket;
}

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.length = 0;
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    ),
  );
  servers.length = 0;
});

/** A loopback server and a connected client; the server side starts paused when asked. */
async function connectPair(
  options: { readonly pauseOnConnect?: boolean; readonly writableHighWaterMark?: number } = {},
): Promise<Peer> {
  const server = net.createServer({ pauseOnConnect: options.pauseOnConnect ?? false });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({
    port,
    host: '127.0.0.1',
    ...(options.writableHighWaterMark === undefined
      ? {}
      : { writableHighWaterMark: options.writableHighWaterMark }),
  });
  sockets.push(client);
  await once(client, 'connect');
  const [remote] = await accepted;
  sockets.push(remote);
  // A client destroyed with unsent data resets the connection; the server side is not under test.
  remote.on('error', () => undefined);
  return { client, remote };
}

/** Everything the socket receives until the peer ends. */
async function received(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks);
}

/** Records the `_write` and `_writev` calls the stream makes, delegating to the originals. */
function spyWrites(socket: net.Socket): { writev: number[]; write: number } {
  const calls = { writev: [] as number[], write: 0 };
  interface Internals {
    _writev: (chunks: unknown[], cb: (error?: Error | null) => void) => void;
    _write: (chunk: unknown, encoding: BufferEncoding, cb: (error?: Error | null) => void) => void;
  }
  const internals = socket as unknown as Internals;
  const writev = internals._writev;
  const write = internals._write;
  internals._writev = function (this: net.Socket, chunks, cb) {
    calls.writev.push(chunks.length);
    writev.call(this, chunks, cb);
  };
  internals._write = function (this: net.Socket, chunk, encoding, cb) {
    calls.write++;
    write.call(this, chunk, encoding, cb);
  };
  return calls;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

describe('WriteBatch', () => {
  it('delivers many small writes of one tick in order', async () => {
    const { client, remote } = await connectPair();
    const done = received(remote);
    const batch = new WriteBatch(client);
    const expected: string[] = [];
    for (let i = 0; i < 1000; i++) {
      expected.push(`${i};`);
      batch.write(Buffer.from(`${i};`));
    }
    expect(batch.pendingCount).toBe(1000);
    // The flush the first write scheduled runs before this later tick.
    await new Promise<void>((resolve) => {
      process.nextTick(resolve);
    });
    expect(batch.pendingCount).toBe(0);
    client.end();
    expect((await done).toString()).toBe(expected.join(''));
    expect(batch.pendingCount).toBe(0);
    expect(batch.chunksWritten).toBe(1000);
  });

  it('turns a burst of writes in one tick into one _writev call carrying every chunk', async () => {
    const { client, remote } = await connectPair();
    const calls = spyWrites(client);
    const done = received(remote);
    const batch = new WriteBatch(client);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.from(`chunk ${i}\n`));
    for (const chunk of chunks) expect(batch.write(chunk)).toBe(true);
    // Nothing is written before the flush tick.
    expect(calls.writev).toEqual([]);
    expect(calls.write).toBe(0);
    expect(batch.pendingBytes).toBe(Buffer.concat(chunks).length);

    await new Promise<void>((resolve) => {
      process.nextTick(resolve);
    });
    expect(calls.writev).toEqual([64]);
    expect(calls.write).toBe(0);
    expect(batch.flushes).toBe(1);
    expect(batch.pendingBytes).toBe(0);

    client.end();
    expect(Buffer.compare(await done, Buffer.concat(chunks))).toBe(0);
    expect(batch.bytesWritten).toBe(Buffer.concat(chunks).length);
  });

  it('writes a single queued chunk with a plain write, and waits for flush() without autoFlush', async () => {
    const { client, remote } = await connectPair();
    const calls = spyWrites(client);
    const done = received(remote);
    const batch = new WriteBatch(client, { autoFlush: false });

    batch.write(Buffer.from('one'));
    await nextTurn();
    expect(calls.write + calls.writev.length).toBe(0);
    expect(batch.flush()).toBe(true);
    expect(calls).toEqual({ writev: [], write: 1 });

    batch.write(Buffer.from('-two'));
    batch.write(Buffer.from('-three'));
    batch.flush();
    expect(calls.writev).toEqual([2]);
    expect(batch.flush()).toBe(true);
    expect(calls.writev).toEqual([2]);

    client.end();
    expect((await done).toString()).toBe('one-two-three');
  });

  it('returns false once queued plus buffered bytes reach the high-water mark', async () => {
    const { client, remote } = await connectPair({ writableHighWaterMark: 1024 });
    const done = received(remote);
    const batch = new WriteBatch(client);
    expect(batch.write(Buffer.alloc(600, 1))).toBe(true);
    expect(batch.write(Buffer.alloc(600, 2))).toBe(false);
    await batch.drained();
    expect(batch.pendingCount).toBe(0);
    expect(batch.write(Buffer.alloc(10, 3))).toBe(true);
    batch.flush();
    client.end();
    expect((await done).length).toBe(1210);
  });

  it('honours the socket backpressure: write returns false until the peer reads, then drained() resolves', async () => {
    const { client, remote } = await connectPair({ pauseOnConnect: true, writableHighWaterMark: 1024 });
    const batch = new WriteBatch(client, { autoFlush: false });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    // Fill the kernel buffers of both ends; the peer reads nothing.
    for (;;) {
      batch.write(chunk);
      sent += chunk.length;
      if (!batch.flush()) break;
      expect(sent).toBeLessThan(1024 * 1024 * 1024);
    }
    expect(client.writableNeedDrain).toBe(true);
    expect(batch.write(Buffer.from('tail'))).toBe(false);
    sent += 4;

    let settled = false;
    const drained = batch.drained().then(() => {
      settled = true;
    });
    // The queued tail went to the socket; the wait is on the socket now.
    expect(batch.pendingCount).toBe(0);
    // Several waiters share one wait and one set of listeners.
    const drainListeners = client.listenerCount('drain');
    void batch.drained();
    void batch.drained();
    expect(client.listenerCount('drain')).toBe(drainListeners);
    await nextTurn();
    expect(settled).toBe(false);

    let total = 0;
    remote.on('data', (data: Buffer) => {
      total += data.length;
    });
    remote.resume();
    await drained;
    expect(client.writableNeedDrain).toBe(false);
    expect(client.listenerCount('drain')).toBe(drainListeners - 1);
    expect(batch.write(Buffer.from('more'))).toBe(true);
    batch.flush();
    client.end();
    await once(remote, 'end');
    expect(total).toBe(sent + 4);
  });

  it('drops writes after destroy() without throwing or emitting errors', async () => {
    const { client } = await connectPair();
    const errors: unknown[] = [];
    client.on('error', (error: unknown) => errors.push(error));
    const batch = new WriteBatch(client);
    // Queued for the flush tick, but the socket is destroyed before it runs.
    expect(batch.write(Buffer.from('lost'))).toBe(true);
    client.destroy();
    expect(batch.write(Buffer.from('after'))).toBe(false);
    expect(batch.pendingCount).toBe(1);
    await once(client, 'close');
    expect(batch.pendingCount).toBe(0);
    expect(batch.flush()).toBe(false);
    expect(batch.write(Buffer.from('later'))).toBe(false);
    expect(batch.chunksWritten).toBe(0);
    expect(errors).toEqual([]);
    await expect(batch.drained()).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('drops writes after end() instead of raising write-after-end errors', async () => {
    const { client, remote } = await connectPair();
    const errors: unknown[] = [];
    client.on('error', (error: unknown) => errors.push(error));
    const done = received(remote);
    const batch = new WriteBatch(client);
    batch.write(Buffer.from('kept'));
    batch.flush();
    client.end();
    expect(batch.write(Buffer.from('dropped'))).toBe(false);
    expect((await done).toString()).toBe('kept');
    expect(errors).toEqual([]);
  });

  it('end() sends what is queued in this tick before half-closing, then drops later writes', async () => {
    const { client, remote } = await connectPair();
    const errors: unknown[] = [];
    client.on('error', (error: unknown) => errors.push(error));
    const done = received(remote);
    const pool = new BufferPool();
    const batch = new WriteBatch(client);
    batch.write(Buffer.from('first;'));
    const pooled = pool.acquire(6);
    pooled.set(Buffer.from('last;;'));
    batch.write(pooled, pool);
    const finished = once(client, 'finish');
    batch.end();
    expect(batch.pendingCount).toBe(0);
    expect(client.writableEnded).toBe(true);
    expect(batch.write(Buffer.from('late'))).toBe(false);
    batch.end();
    expect((await done).toString()).toBe('first;last;;');
    await finished;
    expect(pool.stats().releases).toBe(1);
    expect(errors).toEqual([]);
  });

  it('rejects drained() when the socket closes or fails before draining', async () => {
    const chunk = Buffer.alloc(64 * 1024);
    const fill = (batch: WriteBatch): void => {
      for (let sent = 0; ; sent += chunk.length) {
        expect(sent).toBeLessThan(1024 * 1024 * 1024);
        batch.write(chunk);
        if (!batch.flush()) return;
      }
    };

    const closed = await connectPair({ pauseOnConnect: true, writableHighWaterMark: 1024 });
    const first = new WriteBatch(closed.client, { autoFlush: false });
    fill(first);
    const waitClosed = first.drained();
    closed.client.destroy();
    await expect(waitClosed).rejects.toBeInstanceOf(StreamClosedError);
    await expect(waitClosed).rejects.toMatchObject({ code: 'MESHLET_ERR_STREAM_CLOSED' });

    const failed = await connectPair({ pauseOnConnect: true, writableHighWaterMark: 1024 });
    const second = new WriteBatch(failed.client, { autoFlush: false });
    fill(second);
    const waitFailed = second.drained();
    const boom = new Error('boom');
    failed.client.destroy(boom);
    await expect(waitFailed).rejects.toBe(boom);
    expect(failed.client.listenerCount('error')).toBe(0);
  });

  it('rejects a non-Writable stream, bad options and non-Uint8Array chunks', async () => {
    expect(() => new WriteBatch({} as unknown as net.Socket)).toThrow(InvalidArgumentError);
    const { client } = await connectPair();
    expect(() => new WriteBatch(client, { autoFlush: 'yes' as unknown as boolean })).toThrow(ConfigError);
    expect(() => new WriteBatch(client, null as unknown as object)).toThrow(ConfigError);
    const batch = new WriteBatch(client);
    expect(() => batch.write('text' as unknown as Uint8Array)).toThrow(InvalidArgumentError);
    expect(batch.write(new Uint8Array(0))).toBe(true);
    expect(batch.pendingCount).toBe(0);
  });
});

describe('WriteBatch with pooled chunks', () => {
  it('gives each chunk back to its pool only once the socket has written it', async () => {
    const { client, remote } = await connectPair();
    const pool = new BufferPool();
    const batch = new WriteBatch(client);
    const frames = 50;
    for (let i = 0; i < frames; i++) {
      const buf = pool.acquire(1000);
      buf.fill(i);
      batch.write(buf, pool);
    }
    // Were the chunks released before the socket wrote them, these acquires would reuse their
    // memory and the peer would receive 0xee bytes instead of the frames.
    const scribbled: Buffer[] = [];
    for (let i = 0; i < frames; i++) scribbled.push(pool.acquire(1000).fill(0xee));
    expect(pool.stats().hits).toBe(0);
    const arrived = received(remote);
    await new Promise<void>((resolve) => {
      process.nextTick(() => {
        client.write(Buffer.alloc(0), () => {
          resolve();
        });
      });
    });
    client.end();
    const data = await arrived;
    expect(data.length).toBe(frames * 1000);
    for (let i = 0; i < frames; i++) {
      expect(data.subarray(i * 1000, (i + 1) * 1000).every((b) => b === i)).toBe(true);
    }
    const stats = pool.stats();
    expect(stats.releases).toBe(frames);
    expect(stats.doubleReleases).toBe(0);
    for (const buf of scribbled) pool.release(buf);
    expect(pool.acquire(1000).buffer.byteLength).toBe(1024);
    expect(pool.stats().hits).toBe(1);
  });

  it('releases only the chunks written with an owner', async () => {
    const { client, remote } = await connectPair();
    const pool = new BufferPool();
    const batch = new WriteBatch(client, { autoFlush: false });
    const pooled = pool.acquire(10).fill(1);
    const own = Buffer.alloc(10, 2);
    batch.write(own);
    batch.write(pooled, pool);
    batch.write(Buffer.alloc(10, 3));
    const arrived = received(remote);
    await new Promise<void>((resolve) => {
      batch.flush();
      client.write(Buffer.alloc(0), () => {
        resolve();
      });
    });
    client.end();
    expect([...(await arrived)]).toEqual([...own, ...Buffer.alloc(10, 1), ...Buffer.alloc(10, 3)]);
    const stats = pool.stats();
    expect(stats.releases).toBe(1);
    expect(stats.foreignReleases).toBe(0);
  });

  it('releases pooled chunks that are dropped because the socket is gone', async () => {
    const { client } = await connectPair();
    const pool = new BufferPool();
    const batch = new WriteBatch(client);
    batch.write(pool.acquire(100), pool);
    client.destroy();
    expect(batch.write(pool.acquire(100), pool)).toBe(false);
    expect(batch.flush()).toBe(false);
    expect(batch.pendingCount).toBe(0);
    expect(batch.pendingBytes).toBe(0);
    expect(pool.stats().releases).toBe(2);
    expect(pool.stats().retainedBytes).toBe(256);
  });
});
