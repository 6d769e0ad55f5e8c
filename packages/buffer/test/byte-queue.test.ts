import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BufferRangeError, ByteQueue, InvalidArgumentError } from '../src/index.js';

type IntRead =
  | 'readUInt8'
  | 'readInt8'
  | 'readUInt16BE'
  | 'readUInt16LE'
  | 'readInt16BE'
  | 'readInt16LE'
  | 'readUInt32BE'
  | 'readUInt32LE'
  | 'readInt32BE'
  | 'readInt32LE'
  | 'readBigUInt64BE'
  | 'readBigUInt64LE';

const reads: readonly (readonly [IntRead, number])[] = [
  ['readUInt8', 1],
  ['readInt8', 1],
  ['readUInt16BE', 2],
  ['readUInt16LE', 2],
  ['readInt16BE', 2],
  ['readInt16LE', 2],
  ['readUInt32BE', 4],
  ['readUInt32LE', 4],
  ['readInt32BE', 4],
  ['readInt32LE', 4],
  ['readBigUInt64BE', 8],
  ['readBigUInt64LE', 8],
];

/** Bytes plus sorted split points: the chunking a socket might deliver them in. */
const chunkedBytes = fc.uint8Array({ minLength: 0, maxLength: 2048 }).chain((data) =>
  fc
    .tuple(
      fc.constant(data),
      fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, data.length - 1) }), { maxLength: 64 }),
      fc.boolean(),
    )
    .map(([bytes, cuts, plain]) => ({
      data: Buffer.from(bytes),
      chunks: split(bytes, cuts, plain),
    })),
);

/**
 * Splits `data` at `cuts`. Chunks are views into one larger ArrayBuffer at a non-zero offset, as
 * Node's pooled reads are, and are plain Uint8Arrays when `plain`, to exercise the wrapping.
 */
function split(data: Uint8Array, cuts: readonly number[], plain: boolean): Uint8Array[] {
  const backing = new Uint8Array(data.length + 16);
  backing.set(data, 7);
  const points = [...new Set(cuts.filter((c) => c > 0 && c < data.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const end of [...points, data.length]) {
    const view = backing.subarray(7 + start, 7 + end);
    chunks.push(plain ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength));
    start = end;
  }
  return chunks;
}

/** A Buffer over an ArrayBuffer of its own, so that `.buffer` identity means "same memory". */
function ownBuffer(text: string): Buffer {
  const bytes = new TextEncoder().encode(text);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function queueOf(chunks: readonly Uint8Array[]): ByteQueue {
  const queue = new ByteQueue();
  for (const chunk of chunks) queue.push(chunk);
  return queue;
}

function expectRangeError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BufferRangeError);
  expect((caught as BufferRangeError).code).toBe('MESHLET_ERR_BUFFER_OUT_OF_RANGE');
}

describe('ByteQueue reads', () => {
  it('match Buffer reads at every offset, for any chunking', () => {
    fc.assert(
      fc.property(chunkedBytes, ({ data, chunks }) => {
        const queue = queueOf(chunks);
        expect(queue.length).toBe(data.length);
        for (const [method, width] of reads) {
          for (let offset = 0; offset + width <= data.length; offset++) {
            expect(queue[method](offset)).toBe(data[method](offset));
          }
          expectRangeError(() => queue[method](data.length - width + 1));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('match Buffer reads after part of the data was consumed', () => {
    fc.assert(
      fc.property(chunkedBytes, fc.nat(), ({ data, chunks }, seed) => {
        const queue = queueOf(chunks);
        const consumed = data.length === 0 ? 0 : seed % (data.length + 1);
        queue.skip(consumed);
        const rest = data.subarray(consumed);
        for (const [method, width] of reads) {
          for (let offset = 0; offset + width <= rest.length; offset++) {
            expect(queue[method](offset)).toBe(rest[method](offset));
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('read at offset 0 by default, with the fast path inside the first chunk', () => {
    const queue = new ByteQueue();
    queue.push(Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 1, 2, 3, 4]));
    expect(queue.readUInt32BE()).toBe(0xfffefdfc);
    expect(queue.readInt32BE()).toBe(Buffer.from([0xff, 0xfe, 0xfd, 0xfc]).readInt32BE(0));
    expect(queue.readBigUInt64BE()).toBe(0xfffefdfc01020304n);
  });

  it('assemble values whose top bit is set across chunk boundaries without sign errors', () => {
    const queue = queueOf([Buffer.from([0xff]), Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0x80])]);
    expect(queue.readUInt32BE(0)).toBe(0xffffffff);
    expect(queue.readInt32BE(0)).toBe(-1);
    expect(queue.readUInt32LE(1)).toBe(0x80ffffff);
    expect(queue.readInt16LE(3)).toBe(-0x7f01);
  });

  it('throw BufferRangeError for bad offsets and consume nothing', () => {
    const queue = queueOf([Buffer.from([1, 2]), Buffer.from([3])]);
    expectRangeError(() => queue.readUInt32BE(0));
    expectRangeError(() => queue.readUInt8(3));
    expectRangeError(() => queue.readUInt8(-1));
    expectRangeError(() => queue.readUInt8(0.5));
    expectRangeError(() => queue.readUInt16LE(Number.NaN));
    expectRangeError(() => new ByteQueue().readUInt8(0));
    expect(queue.length).toBe(3);
    expect(queue.chunkCount).toBe(2);
    expect(queue.readUInt8(2)).toBe(3);
  });

  it('report the offset, width and available length in the error message', () => {
    const queue = queueOf([Buffer.from([1, 2, 3])]);
    expect(() => queue.readUInt32LE(1)).toThrow(/4 byte\(s\) at offset 1: 3 available/);
  });
});

describe('ByteQueue.indexOf', () => {
  it('matches Buffer#indexOf for bytes, slices of the data and random needles, for any chunking', () => {
    fc.assert(
      fc.property(
        chunkedBytes,
        fc.array(
          fc.record({
            kind: fc.constantFrom('byte', 'slice', 'overhang', 'random'),
            a: fc.nat(),
            b: fc.integer({ min: 0, max: 12 }),
            from: fc.nat(),
            needle: fc.uint8Array({ minLength: 1, maxLength: 4 }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        ({ data, chunks }, searches) => {
          const queue = queueOf(chunks);
          for (const { kind, a, b, from, needle } of searches) {
            const fromOffset = from % (data.length + 1);
            if (kind === 'byte') {
              const byte = data.length > 0 && a % 2 === 0 ? (data[a % data.length] as number) : a % 256;
              expect(queue.indexOf(byte, fromOffset)).toBe(data.indexOf(byte, fromOffset));
            } else if (kind === 'slice') {
              const start = data.length === 0 ? 0 : a % data.length;
              const slice = data.subarray(start, Math.min(data.length, start + b));
              if (slice.length === 0) continue;
              expect(queue.indexOf(slice, fromOffset)).toBe(data.indexOf(slice, fromOffset));
              expect(queue.indexOf(slice)).toBe(data.indexOf(slice));
            } else if (kind === 'overhang') {
              // The data's tail plus one more byte: a match that begins but runs off the end.
              const tail = data.subarray(data.length - Math.min(data.length, b));
              const overhang = Buffer.concat([tail, Buffer.from([a % 256])]);
              expect(queue.indexOf(overhang, fromOffset)).toBe(data.indexOf(overhang, fromOffset));
            } else {
              expect(queue.indexOf(needle, fromOffset)).toBe(data.indexOf(needle, fromOffset));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds a needle that straddles several chunks, before a later match inside a chunk', () => {
    const queue = queueOf([
      Buffer.from('xx\r'),
      Buffer.from('\n'),
      Buffer.from('\r'),
      Buffer.from('\nab\r\n'),
    ]);
    expect(queue.indexOf(Buffer.from('\r\n'))).toBe(2);
    expect(queue.indexOf(Buffer.from('\r\n'), 3)).toBe(4);
    expect(queue.indexOf(Buffer.from('\r\n\r\n'))).toBe(2);
    expect(queue.indexOf(Buffer.from('\r\n'), 5)).toBe(8);
    expect(queue.indexOf(0x61)).toBe(6);
    expect(queue.indexOf(0x7a)).toBe(-1);
    // A needle whose prefix matches the data's tail across a boundary, then runs off the end.
    expect(queueOf([Buffer.from('xa'), Buffer.from('b')]).indexOf(Buffer.from('abc'))).toBe(-1);
  });

  it('finds an empty needle at fromOffset while it is within the data', () => {
    const queue = queueOf([Buffer.from('abc')]);
    expect(queue.indexOf(new Uint8Array(0))).toBe(0);
    expect(queue.indexOf(new Uint8Array(0), 3)).toBe(3);
    expect(queue.indexOf(new Uint8Array(0), 4)).toBe(-1);
    expect(queue.indexOf(0x61, 3)).toBe(-1);
  });

  it('rejects values that are not bytes and bad offsets', () => {
    const queue = queueOf([Buffer.from('abc')]);
    expect(() => queue.indexOf(256)).toThrow(InvalidArgumentError);
    expect(() => queue.indexOf(-1)).toThrow(InvalidArgumentError);
    expect(() => queue.indexOf(0x61, -1)).toThrow(InvalidArgumentError);
    expect(() => queue.indexOf('a' as unknown as number)).toThrow(InvalidArgumentError);
  });
});

describe('ByteQueue consumption', () => {
  it('take, skip, peek, push and reads interleaved behave like slicing one Buffer', () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant('take' as const), n: fc.nat({ max: 300 }) }),
      fc.record({ op: fc.constant('skip' as const), n: fc.nat({ max: 300 }) }),
      fc.record({ op: fc.constant('peek' as const), n: fc.nat({ max: 300 }) }),
      fc.record({ op: fc.constant('read' as const), n: fc.nat(), which: fc.nat({ max: reads.length - 1 }) }),
      fc.record({ op: fc.constant('indexOf' as const), n: fc.nat(), len: fc.integer({ min: 1, max: 5 }) }),
      fc.record({
        op: fc.constant('push' as const),
        chunk: fc.uint8Array({ minLength: 0, maxLength: 200 }),
      }),
    );
    fc.assert(
      fc.property(chunkedBytes, fc.array(op, { maxLength: 60 }), ({ data, chunks }, ops) => {
        const queue = queueOf(chunks);
        let model = Buffer.from(data);
        for (const step of ops) {
          switch (step.op) {
            case 'take':
            case 'skip':
            case 'peek': {
              if (step.n > model.length) {
                expectRangeError(() => queue[step.op](step.n));
                break;
              }
              const expected = Buffer.from(model.subarray(0, step.n));
              if (step.op === 'skip') queue.skip(step.n);
              else expect(Buffer.compare(queue[step.op](step.n), expected)).toBe(0);
              if (step.op !== 'peek') model = model.subarray(step.n);
              break;
            }
            case 'read': {
              const [method, width] = reads[step.which] as readonly [IntRead, number];
              if (model.length < width) {
                expectRangeError(() => queue[method](0));
                break;
              }
              const offset = step.n % (model.length - width + 1);
              expect(queue[method](offset)).toBe(model[method](offset));
              break;
            }
            case 'indexOf': {
              if (model.length === 0) {
                expect(queue.indexOf(Buffer.from([1, 2]))).toBe(-1);
                break;
              }
              const start = step.n % model.length;
              const needle = Buffer.from(model.subarray(start, start + step.len));
              expect(queue.indexOf(needle)).toBe(model.indexOf(needle));
              break;
            }
            case 'push':
              queue.push(step.chunk);
              model = Buffer.concat([model, step.chunk]);
              break;
          }
          expect(queue.length).toBe(model.length);
        }
        expect(Buffer.compare(queue.take(queue.length), model)).toBe(0);
        expect(queue.length).toBe(0);
        expect(queue.chunkCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('take inside one chunk returns a view of it, across chunks a copy', () => {
    // Each on its own ArrayBuffer (Buffer.from(string) may share Node's pool with the copy).
    const first = ownBuffer('hello ');
    const second = ownBuffer('world');
    const queue = queueOf([first, second]);

    const inside = queue.take(5);
    expect(inside.toString()).toBe('hello');
    expect(inside.buffer).toBe(first.buffer);
    first[0] = 0x48;
    expect(inside.toString()).toBe('Hello');

    const across = queue.take(3);
    expect(across.toString()).toBe(' wo');
    expect(across.buffer).not.toBe(first.buffer);
    expect(across.buffer).not.toBe(second.buffer);
    second[1] = 0x4f;
    expect(across.toString()).toBe(' wo');
    expect(queue.take(2).toString()).toBe('rl');
  });

  it('peek does not consume, and is a view inside one chunk', () => {
    const chunk = ownBuffer('abcdef');
    const queue = queueOf([chunk, Buffer.from('gh')]);
    expect(queue.peek(3).buffer).toBe(chunk.buffer);
    expect(queue.peek(8).toString()).toBe('abcdefgh');
    expect(queue.length).toBe(8);
    expect(queue.peek(0).length).toBe(0);
  });

  it('wraps a plain Uint8Array without copying it', () => {
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const queue = new ByteQueue();
    queue.push(bytes);
    bytes[0] = 9;
    expect(queue.readUInt8(0)).toBe(9);
    expect(queue.take(2).buffer).toBe(bytes.buffer);
  });

  it('ignores empty chunks and rejects non-Uint8Arrays', () => {
    const queue = new ByteQueue();
    queue.push(new Uint8Array(0));
    expect(queue.chunkCount).toBe(0);
    expect(() => {
      queue.push('abc' as unknown as Uint8Array);
    }).toThrow(InvalidArgumentError);
    expect(() => {
      queue.push([1, 2] as unknown as Uint8Array);
    }).toThrow(InvalidArgumentError);
  });

  it('throws BufferRangeError for take/skip/peek beyond length and consumes nothing', () => {
    const queue = queueOf([Buffer.from('ab'), Buffer.from('c')]);
    expectRangeError(() => queue.take(4));
    expectRangeError(() => {
      queue.skip(4);
    });
    expectRangeError(() => queue.peek(4));
    expectRangeError(() => queue.take(-1));
    expectRangeError(() => queue.take(1.5));
    expect(queue.length).toBe(3);
    expect(queue.take(3).toString()).toBe('abc');
    expect(queue.take(0).length).toBe(0);
  });

  it('releases consumed chunks, including while the queue never empties', () => {
    const queue = new ByteQueue();
    for (let i = 0; i < 1000; i++) queue.push(Buffer.from([i & 0xff, 0]));
    expect(queue.chunkCount).toBe(1000);
    queue.skip(2 * 999 + 1);
    expect(queue.chunkCount).toBe(1);
    queue.skip(1);
    expect(queue.chunkCount).toBe(0);

    // A steady stream: one chunk in, one chunk's worth out. The retained chunks must stay bounded
    // (compaction), not grow with the number of chunks ever pushed.
    queue.push(Buffer.from([1]));
    for (let i = 0; i < 10_000; i++) {
      queue.push(Buffer.from([2, 3, 4]));
      queue.skip(3);
      expect(queue.chunkCount).toBeLessThanOrEqual(2);
    }
    expect(queue.length).toBe(1);
    expect(queue.readUInt8(0)).toBe(4);
  });

  it('drops its reference to a consumed chunk while later chunks remain', async () => {
    const gc = exposeGc();
    const queue = new ByteQueue();
    // Pushed from a helper, so that the test itself holds no reference to the chunk.
    const ref = pushBigChunk(queue);
    queue.push(Buffer.from([2, 3]));
    queue.readUInt16BE((1 << 20) - 1); // a read across the boundary leaves no reference behind
    queue.skip(1 << 20);
    // WeakRef targets stay alive until the current job ends.
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
    gc();
    expect(ref.deref()).toBeUndefined();
    expect(queue.readUInt16BE(0)).toBe(0x0203);
  });

  it('keeps its chunk list bounded when it never empties (compaction)', () => {
    const gc = exposeGc();
    const queue = new ByteQueue();
    const chunk = Buffer.from([2, 3, 4]);
    queue.push(Buffer.from([1]));
    gc();
    const before = process.memoryUsage().heapUsed;
    // Without compaction every consumed chunk would leave a slot behind: 8 MB for a million.
    for (let i = 0; i < 1_000_000; i++) {
      queue.push(chunk);
      queue.skip(3);
    }
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(2 * 1024 * 1024);
    expect(queue.chunkCount).toBe(1);
  });

  it('clear drops everything', () => {
    const queue = queueOf([Buffer.from('ab'), Buffer.from('cd')]);
    queue.clear();
    expect(queue.length).toBe(0);
    expect(queue.chunkCount).toBe(0);
    queue.push(Buffer.from('x'));
    expect(queue.take(1).toString()).toBe('x');
  });
});

/** `global.gc` without restarting Node with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function pushBigChunk(queue: ByteQueue): WeakRef<Buffer> {
  const big = Buffer.allocUnsafeSlow(1 << 20).fill(1);
  queue.push(big);
  return new WeakRef(big);
}
