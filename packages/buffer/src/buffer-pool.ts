import { ConfigError, InvalidArgumentError } from '@meshlet/errors';
import type { BufferPoolClassStats, BufferPoolOptions, BufferPoolStats } from './types.js';

const kDefaultMinSize = 64;
const kDefaultMaxSize = 65536;
const kDefaultMaxRetainedBytesPerClass = 1024 * 1024;
const kMaxClassSize = 2 ** 30;

// Where a slab is.
const kOut = 0;
const kFree = 1;
const kDropped = 2;

/**
 * One slab: a class-size ArrayBuffer, a Buffer over all of it (made once, so an acquire of the
 * full class size allocates nothing and a smaller one costs a `subarray`), and its state. The
 * record is mutated in place, so a steady acquire/release cycle does one WeakMap lookup and no
 * WeakMap writes (measured: Buffer.from(arrayBuffer) and map writes were most of its cost).
 */
class Slab {
  readonly view: Buffer;
  readonly classIndex: number;
  state: number;

  constructor(size: number, classIndex: number) {
    this.view = newSlab(size);
    this.classIndex = classIndex;
    this.state = kOut;
  }
}

/** One size class: its free slabs (a LIFO stack) and its counters. */
class SizeClass {
  readonly size: number;
  readonly free: Slab[];
  hits: number;
  misses: number;
  retainedBytes: number;

  constructor(size: number) {
    this.size = size;
    this.free = [];
    this.hits = 0;
    this.misses = 0;
    this.retainedBytes = 0;
  }
}

/**
 * A pool of `Buffer`s in power-of-two size classes, for the short-lived buffers of a data plane
 * (frames being encoded, read scratch space), in the manner of MOSN's buffer pool.
 *
 * `acquire(size)` returns a Buffer of exactly `size` bytes viewing a slab (an `ArrayBuffer`) of
 * the smallest class that fits; `release(buffer)` gives the slab back. Each class keeps at most
 * `maxRetainedBytesPerClass` bytes of free slabs; the rest is left to the garbage collector. The
 * pool tracks every slab it handed out, so a double release or the release of a buffer it does
 * not own is counted and ignored, and a slab is never handed out twice.
 *
 * @example
 * ```ts
 * const pool = new BufferPool({ maxSize: 16384 });
 * const frame = pool.acquire(headerLength + bodyLength); // contents are NOT zeroed
 * encodeFrame(frame);
 * socket.write(frame, () => pool.release(frame));
 * ```
 */
export class BufferPool {
  readonly #minSize: number;
  readonly #maxSize: number;
  readonly #maxRetainedBytesPerClass: number;
  readonly #minShift: number;
  readonly #classes: SizeClass[];
  // Keyed by slab, never by the Buffer views: users may release any view of what they got, and
  // nothing is added to the objects they hold. Weak, so dropped slabs are still collected.
  readonly #slabs: WeakMap<ArrayBufferLike, Slab>;
  #oversize: number;
  #releases: number;
  #drops: number;
  #doubleReleases: number;
  #foreignReleases: number;

  /**
   * @param options - size classes and retention cap; see {@link BufferPoolOptions}.
   * @throws ConfigError when a size is not a power of two in [1, 2**30], `minSize > maxSize`, or
   *   `maxRetainedBytesPerClass` is not a non-negative integer.
   */
  constructor(options: BufferPoolOptions = {}) {
    // Typed callers cannot get this wrong; JavaScript callers can.
    const raw: unknown = options;
    if (typeof raw !== 'object' || raw === null) {
      throw new ConfigError('BufferPool: options must be an object');
    }
    const minSize = options.minSize ?? kDefaultMinSize;
    const maxSize = options.maxSize ?? kDefaultMaxSize;
    const maxRetained = options.maxRetainedBytesPerClass ?? kDefaultMaxRetainedBytesPerClass;
    if (!isPowerOfTwo(minSize)) {
      throw new ConfigError(
        `BufferPool: options.minSize must be a power of two in [1, 2**30], got ${String(minSize)}`,
      );
    }
    if (!isPowerOfTwo(maxSize)) {
      throw new ConfigError(
        `BufferPool: options.maxSize must be a power of two in [1, 2**30], got ${String(maxSize)}`,
      );
    }
    if (minSize > maxSize) {
      throw new ConfigError(
        `BufferPool: options.minSize (${minSize}) must not be greater than options.maxSize (${maxSize})`,
      );
    }
    if (!Number.isSafeInteger(maxRetained) || maxRetained < 0) {
      throw new ConfigError(
        `BufferPool: options.maxRetainedBytesPerClass must be a non-negative integer, got ${String(maxRetained)}`,
      );
    }
    this.#minSize = minSize;
    this.#maxSize = maxSize;
    this.#maxRetainedBytesPerClass = maxRetained;
    this.#minShift = 31 - Math.clz32(minSize);
    const classes: SizeClass[] = [];
    for (let size = minSize; size <= maxSize; size *= 2) classes.push(new SizeClass(size));
    this.#classes = classes;
    this.#slabs = new WeakMap();
    this.#oversize = 0;
    this.#releases = 0;
    this.#drops = 0;
    this.#doubleReleases = 0;
    this.#foreignReleases = 0;
  }

  /** Smallest size class in bytes. */
  get minSize(): number {
    return this.#minSize;
  }

  /** Largest size class in bytes; larger acquires are not pooled. */
  get maxSize(): number {
    return this.#maxSize;
  }

  /** Bytes of free slabs each size class may keep. */
  get maxRetainedBytesPerClass(): number {
    return this.#maxRetainedBytesPerClass;
  }

  /**
   * A Buffer of exactly `size` bytes whose contents are arbitrary (old data included, as with
   * `Buffer.allocUnsafe`): write every byte you send. Sizes up to `maxSize` come from the pool;
   * larger ones are allocated on their own and are not pooled; 0 gives an empty Buffer.
   *
   * @throws InvalidArgumentError when `size` is not a non-negative safe integer.
   */
  acquire(size: number): Buffer {
    if (!(Number.isSafeInteger(size) && size >= 0)) {
      throw new InvalidArgumentError(
        `BufferPool.acquire: size must be a non-negative integer, got ${String(size)}`,
      );
    }
    if (size === 0) return Buffer.alloc(0);
    if (size > this.#maxSize) {
      this.#oversize++;
      return Buffer.allocUnsafeSlow(size);
    }
    // The smallest power of two >= n is 2 ** (32 - clz32(n - 1)); n <= 2**30 keeps it in range.
    const wanted = size < this.#minSize ? this.#minSize : size;
    const index = 32 - Math.clz32(wanted - 1) - this.#minShift;
    const cls = this.#classes[index] as SizeClass;
    let slab = cls.free.pop();
    if (slab !== undefined) {
      cls.retainedBytes -= cls.size;
      // A user who kept a released view may have transferred (detached) the slab since: such a
      // slab cannot be viewed again, so it is dropped and the acquire becomes a miss.
      if (slab.view.byteLength === cls.size) {
        cls.hits++;
        slab.state = kOut;
        return size === cls.size ? slab.view : slab.view.subarray(0, size);
      }
      slab.state = kDropped;
    }
    cls.misses++;
    slab = new Slab(cls.size, index);
    this.#slabs.set(slab.view.buffer, slab);
    return size === cls.size ? slab.view : slab.view.subarray(0, size);
  }

  /**
   * Gives back a buffer from {@link BufferPool.acquire}; the caller must not touch it (or any
   * other view of it) afterwards. Any view of the acquired memory may be passed, a `subarray`
   * included: the pool identifies the slab by its `ArrayBuffer`. Never throws for a foreign or
   * already released buffer: those are counted (`foreignReleases`, `doubleReleases`) and ignored.
   *
   * As with `free()` in C, releasing a stale buffer after its slab was handed out again releases
   * the new holder's slab; the pool cannot tell the two apart.
   *
   * @returns `true` when the release was accepted (the slab is retained, or dropped because its
   *   class is full), `false` when it was ignored.
   * @throws InvalidArgumentError when `buffer` is not a Uint8Array.
   */
  release(buffer: Uint8Array): boolean {
    if (!(buffer instanceof Uint8Array)) {
      throw new InvalidArgumentError('BufferPool.release: buffer must be a Uint8Array');
    }
    const slab = this.#slabs.get(buffer.buffer);
    if (slab === undefined) {
      this.#foreignReleases++;
      return false;
    }
    if (slab.state !== kOut) {
      this.#doubleReleases++;
      return false;
    }
    this.#releases++;
    const cls = this.#classes[slab.classIndex] as SizeClass;
    if (
      cls.retainedBytes + cls.size > this.#maxRetainedBytesPerClass ||
      // Detached by its holder (transferred to a worker, say): nothing left to reuse.
      slab.view.byteLength !== cls.size
    ) {
      this.#drops++;
      slab.state = kDropped;
      return true;
    }
    slab.state = kFree;
    cls.free.push(slab);
    cls.retainedBytes += cls.size;
    return true;
  }

  /** Lets every free slab go to the garbage collector (under memory pressure, say). */
  trim(): void {
    for (const cls of this.#classes) {
      const free = cls.free;
      for (const slab of free) slab.state = kDropped;
      free.length = 0;
      cls.retainedBytes = 0;
    }
  }

  /** A new snapshot of the pool's counters. */
  stats(): BufferPoolStats {
    let hits = 0;
    let misses = 0;
    let retainedBytes = 0;
    const classes: BufferPoolClassStats[] = [];
    for (const cls of this.#classes) {
      hits += cls.hits;
      misses += cls.misses;
      retainedBytes += cls.retainedBytes;
      classes.push({
        size: cls.size,
        hits: cls.hits,
        misses: cls.misses,
        retained: cls.free.length,
        retainedBytes: cls.retainedBytes,
      });
    }
    return {
      hits,
      misses,
      oversize: this.#oversize,
      releases: this.#releases,
      drops: this.#drops,
      doubleReleases: this.#doubleReleases,
      foreignReleases: this.#foreignReleases,
      retainedBytes,
      reuseRate: hits + misses === 0 ? 0 : hits / (hits + misses),
      classes,
    };
  }
}

function isPowerOfTwo(value: unknown): value is number {
  return (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 1 &&
    value <= kMaxClassSize &&
    (value & (value - 1)) === 0
  );
}

/** A Buffer over a fresh ArrayBuffer of exactly `size` bytes of its own, not zero-filled. */
function newSlab(size: number): Buffer {
  // allocUnsafeSlow skips the zero fill and never carves from Node's shared pool; the check
  // keeps that an asserted fact rather than a belief, since a shared slab would be handed out twice.
  const buffer = Buffer.allocUnsafeSlow(size);
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === size) return buffer;
  return Buffer.from(new ArrayBuffer(size));
}
