import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BufferPool, ConfigError, InvalidArgumentError } from '../src/index.js';

const kMin = 8;
const kMax = 256;
const kCap = 512;

type Op =
  | { readonly op: 'acquire'; readonly size: number }
  | { readonly op: 'release'; readonly pick: number; readonly as: 'whole' | 'subarray' | 'foreign' }
  | { readonly op: 'trim' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('acquire' as const),
      size: fc.oneof(
        { weight: 1, arbitrary: fc.constant(0) },
        { weight: 8, arbitrary: fc.integer({ min: 1, max: kMax }) },
        { weight: 1, arbitrary: fc.integer({ min: kMax + 1, max: 4 * kMax }) },
      ),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('release' as const),
      pick: fc.nat(),
      as: fc.constantFrom('whole' as const, 'whole' as const, 'subarray' as const, 'foreign' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'trim' as const }) },
);

type SlabState = 'out' | 'free' | 'dropped';

/** What a correct pool must do, written the slow and obvious way. */
class PoolModel {
  readonly state = new Map<ArrayBufferLike, SlabState>();
  readonly free = new Map<number, ArrayBufferLike[]>();
  /** The buffer the test holds for each slab that is out, with the byte it was filled with. */
  readonly held = new Map<ArrayBufferLike, { readonly buffer: Buffer; readonly mark: number }>();
  readonly history: Buffer[] = [];
  hits = 0;
  misses = 0;
  oversize = 0;
  releases = 0;
  drops = 0;
  doubleReleases = 0;
  foreignReleases = 0;
  pooledAcquires = 0;

  constructor() {
    for (let size = kMin; size <= kMax; size *= 2) this.free.set(size, []);
  }

  retainedBytes(size: number): number {
    return (this.free.get(size) ?? []).length * size;
  }
}

function classOf(size: number): number {
  let cls = kMin;
  while (cls < size) cls *= 2;
  return cls;
}

function step(pool: BufferPool, model: PoolModel, op: Op): void {
  switch (op.op) {
    case 'acquire': {
      const buffer = pool.acquire(op.size);
      expect(buffer.length).toBe(op.size);
      expect(Buffer.isBuffer(buffer)).toBe(true);
      model.history.push(buffer);
      if (op.size === 0) return;
      const slab = buffer.buffer;
      if (op.size > kMax) {
        model.oversize++;
        expect(model.state.has(slab)).toBe(false);
      } else {
        model.pooledAcquires++;
        const cls = classOf(op.size);
        expect(slab.byteLength).toBe(cls);
        expect(buffer.byteOffset).toBe(0);
        // Never handed out twice: the slab must not belong to a buffer the test still holds.
        expect(model.state.get(slab)).not.toBe('out');
        const stack = model.free.get(cls) as ArrayBufferLike[];
        if (stack.length > 0) {
          model.hits++;
          // LIFO: the most recently released slab of the class comes back first.
          expect(slab).toBe(stack.pop());
        } else {
          model.misses++;
          expect(model.state.has(slab)).toBe(false);
        }
        model.state.set(slab, 'out');
        const mark = model.history.length & 0xff;
        buffer.fill(mark);
        model.held.set(slab, { buffer, mark });
      }
      return;
    }
    case 'release': {
      let target: Uint8Array;
      if (op.as === 'foreign' || model.history.length === 0) {
        target =
          op.pick % 2 === 0
            ? Buffer.alloc(1 + (op.pick % kMax))
            : new Uint8Array(classOf(1 + (op.pick % kMax)));
      } else {
        const picked = model.history[op.pick % model.history.length] as Buffer;
        target = op.as === 'subarray' ? picked.subarray(Math.min(1, picked.length)) : picked;
      }
      const slab = target.buffer;
      const state = model.state.get(slab);
      const accepted = pool.release(target);
      if (state === undefined) {
        model.foreignReleases++;
        expect(accepted).toBe(false);
      } else if (state !== 'out') {
        model.doubleReleases++;
        expect(accepted).toBe(false);
      } else {
        // Also the case of a stale buffer whose slab went out again: the pool cannot tell it
        // from the current holder's release, so the current holder loses it.
        expect(accepted).toBe(true);
        model.releases++;
        model.held.delete(slab);
        const cls = slab.byteLength;
        if (model.retainedBytes(cls) + cls > kCap) {
          model.drops++;
          model.state.set(slab, 'dropped');
        } else {
          (model.free.get(cls) as ArrayBufferLike[]).push(slab);
          model.state.set(slab, 'free');
        }
      }
      return;
    }
    case 'trim': {
      pool.trim();
      for (const stack of model.free.values()) {
        for (const slab of stack) model.state.set(slab, 'dropped');
        stack.length = 0;
      }
      return;
    }
  }
}

function checkInvariants(pool: BufferPool, model: PoolModel): void {
  const stats = pool.stats();
  expect(stats.hits).toBe(model.hits);
  expect(stats.misses).toBe(model.misses);
  expect(stats.hits + stats.misses).toBe(model.pooledAcquires);
  expect(stats.oversize).toBe(model.oversize);
  expect(stats.releases).toBe(model.releases);
  expect(stats.drops).toBe(model.drops);
  expect(stats.doubleReleases).toBe(model.doubleReleases);
  expect(stats.foreignReleases).toBe(model.foreignReleases);
  expect(stats.reuseRate).toBe(model.pooledAcquires === 0 ? 0 : model.hits / model.pooledAcquires);
  let sum = 0;
  for (const cls of stats.classes) {
    expect(cls.retainedBytes).toBeLessThanOrEqual(kCap);
    expect(cls.retainedBytes).toBe(model.retainedBytes(cls.size));
    expect(cls.retained * cls.size).toBe(cls.retainedBytes);
    sum += cls.retainedBytes;
  }
  expect(stats.retainedBytes).toBe(sum);
  // No two held buffers alias: each still carries the byte it was filled with.
  const slabs = new Set<ArrayBufferLike>();
  for (const [slab, { buffer, mark }] of model.held) {
    expect(slabs.has(slab)).toBe(false);
    slabs.add(slab);
    expect(buffer.every((byte) => byte === mark)).toBe(true);
  }
}

describe('BufferPool', () => {
  it('keeps its invariants under any sequence of acquires, releases and trims', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => {
        const pool = new BufferPool({ minSize: kMin, maxSize: kMax, maxRetainedBytesPerClass: kCap });
        const model = new PoolModel();
        for (const op of ops) {
          step(pool, model, op);
          checkInvariants(pool, model);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('serves a size from the smallest class that fits and reuses the slab after release', () => {
    const pool = new BufferPool();
    const first = pool.acquire(100);
    expect(first.length).toBe(100);
    expect(first.buffer.byteLength).toBe(128);
    expect(pool.release(first)).toBe(true);

    const second = pool.acquire(120);
    expect(second.length).toBe(120);
    expect(second.buffer).toBe(first.buffer);
    const stats = pool.stats();
    expect(stats.hits).toBe(1);
    expect(stats.misses).toBe(1);
    expect(stats.reuseRate).toBe(0.5);
    expect(stats.classes.find((c) => c.size === 128)).toMatchObject({ hits: 1, misses: 1, retained: 0 });
  });

  it('rounds small sizes up to minSize and exact powers of two to themselves', () => {
    const pool = new BufferPool({ minSize: 1, maxSize: 1024 });
    expect(pool.acquire(1).buffer.byteLength).toBe(1);
    expect(pool.acquire(3).buffer.byteLength).toBe(4);
    expect(pool.acquire(512).buffer.byteLength).toBe(512);
    expect(pool.acquire(513).buffer.byteLength).toBe(1024);
    expect(new BufferPool().acquire(1).buffer.byteLength).toBe(64);
  });

  it('accepts the release of a subarray of what was acquired', () => {
    const pool = new BufferPool();
    const buffer = pool.acquire(64);
    expect(pool.release(buffer.subarray(10, 20))).toBe(true);
    expect(pool.stats().retainedBytes).toBe(64);
    expect(pool.acquire(64).buffer).toBe(buffer.buffer);
  });

  it('ignores and counts double releases and foreign buffers', () => {
    const pool = new BufferPool();
    const buffer = pool.acquire(10);
    expect(pool.release(buffer)).toBe(true);
    expect(pool.release(buffer)).toBe(false);
    expect(pool.release(Buffer.alloc(64))).toBe(false);
    expect(pool.release(new Uint8Array(64))).toBe(false);
    const stats = pool.stats();
    expect(stats).toMatchObject({ releases: 1, doubleReleases: 1, foreignReleases: 2, retainedBytes: 64 });
    // The slab is in the free list once: two acquires get two different slabs.
    expect(pool.acquire(10).buffer).not.toBe(pool.acquire(10).buffer);
  });

  it('does not pool oversize buffers, and counts their release as foreign', () => {
    const pool = new BufferPool({ maxSize: 1024 });
    const big = pool.acquire(1025);
    expect(big.length).toBe(1025);
    expect(pool.release(big)).toBe(false);
    expect(pool.stats()).toMatchObject({
      oversize: 1,
      foreignReleases: 1,
      retainedBytes: 0,
      hits: 0,
      misses: 0,
    });
  });

  it('returns an unpooled empty buffer for size 0', () => {
    const pool = new BufferPool();
    expect(pool.acquire(0).length).toBe(0);
    expect(pool.stats()).toMatchObject({ hits: 0, misses: 0, oversize: 0 });
  });

  it('drops releases beyond maxRetainedBytesPerClass', () => {
    const pool = new BufferPool({ minSize: 64, maxSize: 64, maxRetainedBytesPerClass: 128 });
    const buffers = [pool.acquire(64), pool.acquire(64), pool.acquire(64)];
    expect(buffers.map((b) => pool.release(b))).toEqual([true, true, true]);
    expect(pool.stats()).toMatchObject({ releases: 3, drops: 1, retainedBytes: 128 });
    // A dropped slab is gone for good: releasing it again is a double release.
    expect(pool.release(buffers[2] as Buffer)).toBe(false);
    expect(pool.stats().doubleReleases).toBe(1);

    const none = new BufferPool({ maxRetainedBytesPerClass: 0 });
    expect(none.release(none.acquire(1))).toBe(true);
    expect(none.stats()).toMatchObject({ drops: 1, retainedBytes: 0 });
  });

  it('trim lets every retained slab go', () => {
    const pool = new BufferPool();
    const a = pool.acquire(64);
    const b = pool.acquire(4096);
    pool.release(a);
    pool.release(b);
    expect(pool.stats().retainedBytes).toBe(64 + 4096);
    pool.trim();
    const stats = pool.stats();
    expect(stats.retainedBytes).toBe(0);
    expect(stats.classes.every((c) => c.retained === 0)).toBe(true);
    expect(pool.acquire(64).buffer).not.toBe(a.buffer);
    expect(pool.stats().misses).toBe(3);
    expect(pool.release(a)).toBe(false);
  });

  it('reports a reuse rate of 0 before any pooled acquire, and one snapshot per call', () => {
    const pool = new BufferPool();
    const before = pool.stats();
    expect(before.reuseRate).toBe(0);
    pool.release(pool.acquire(8));
    pool.release(pool.acquire(8));
    pool.release(pool.acquire(8));
    expect(pool.stats().reuseRate).toBeCloseTo(2 / 3);
    expect(before.hits).toBe(0);
    expect(pool.stats()).not.toBe(pool.stats());
  });

  it('exposes its configuration and one class per power of two', () => {
    const pool = new BufferPool({ minSize: 16, maxSize: 128, maxRetainedBytesPerClass: 4096 });
    expect([pool.minSize, pool.maxSize, pool.maxRetainedBytesPerClass]).toEqual([16, 128, 4096]);
    expect(pool.stats().classes.map((c) => c.size)).toEqual([16, 32, 64, 128]);
    const defaults = new BufferPool();
    expect([defaults.minSize, defaults.maxSize, defaults.maxRetainedBytesPerClass]).toEqual([
      64,
      65536,
      1024 * 1024,
    ]);
  });

  it('rejects invalid options with a ConfigError naming the field', () => {
    const bad: [object, RegExp][] = [
      [{ minSize: 3 }, /minSize/],
      [{ minSize: 0 }, /minSize/],
      [{ maxSize: 1000 }, /maxSize/],
      [{ maxSize: 2 ** 31 }, /maxSize/],
      [{ minSize: 128, maxSize: 64 }, /minSize/],
      [{ maxRetainedBytesPerClass: -1 }, /maxRetainedBytesPerClass/],
      [{ maxRetainedBytesPerClass: 1.5 }, /maxRetainedBytesPerClass/],
      [{ minSize: '64' }, /minSize/],
    ];
    for (const [options, field] of bad) {
      expect(() => new BufferPool(options)).toThrow(ConfigError);
      expect(() => new BufferPool(options)).toThrow(field);
    }
    expect(() => new BufferPool(null as unknown as object)).toThrow(ConfigError);
    expect(thrown(() => new BufferPool({ minSize: 3 }))).toMatchObject({ code: 'MESHLET_ERR_CONFIG' });
    expect(new BufferPool({ minSize: 2 ** 30, maxSize: 2 ** 30 }).maxSize).toBe(2 ** 30);
  });

  it('rejects sizes that are not non-negative integers with an InvalidArgumentError', () => {
    const pool = new BufferPool();
    for (const size of [-1, Number.NaN, 1.5, Infinity, '8' as unknown as number]) {
      expect(() => pool.acquire(size)).toThrow(InvalidArgumentError);
    }
    expect(thrown(() => pool.acquire(-1))).toMatchObject({ code: 'MESHLET_ERR_INVALID_ARGUMENT' });
    expect(() => pool.release('x' as unknown as Uint8Array)).toThrow(InvalidArgumentError);
  });

  it('does not keep a slab its holder detached', () => {
    const pool = new BufferPool();
    const buffer = pool.acquire(64);
    const slab = buffer.buffer as ArrayBuffer;
    structuredClone(slab, { transfer: [slab] }); // detaches it, as postMessage would
    expect(pool.release(buffer)).toBe(true);
    expect(pool.stats()).toMatchObject({ drops: 1, retainedBytes: 0 });
    expect(pool.acquire(64).length).toBe(64);
  });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
