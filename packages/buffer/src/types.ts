/** Options of {@link BufferPool}; every field is validated once, at construction. */
export interface BufferPoolOptions {
  /** Smallest size class in bytes, a power of two in [1, 2**30]. Default 64. */
  readonly minSize?: number;
  /** Largest size class in bytes, a power of two in [minSize, 2**30]; larger requests are not pooled. Default 65536. */
  readonly maxSize?: number;
  /** Bytes of free slabs each size class may keep; releases beyond it are dropped. Default 1 MiB. */
  readonly maxRetainedBytesPerClass?: number;
}

/** Counters of one size class of a {@link BufferPool}, as returned by `stats()`. */
export interface BufferPoolClassStats {
  /** Slab size of the class in bytes (a power of two). */
  readonly size: number;
  /** Acquires served from a free slab of this class. */
  readonly hits: number;
  /** Acquires of this class that had to allocate a new slab. */
  readonly misses: number;
  /** Free slabs the class holds now. */
  readonly retained: number;
  /** Bytes the class holds now: `retained * size`. */
  readonly retainedBytes: number;
}

/** A snapshot of a {@link BufferPool}'s counters; each call to `stats()` returns a new one. */
export interface BufferPoolStats {
  /** Pooled acquires served from a free slab. */
  readonly hits: number;
  /** Pooled acquires that allocated a new slab. */
  readonly misses: number;
  /** Acquires larger than `maxSize`, allocated unpooled. */
  readonly oversize: number;
  /** Releases the pool accepted (retained or dropped). */
  readonly releases: number;
  /** Accepted releases that were not retained because their class was full. */
  readonly drops: number;
  /** Releases of a slab that was already released (free or dropped); ignored. */
  readonly doubleReleases: number;
  /** Releases of memory the pool did not hand out (oversize, empty or unrelated buffers); ignored. */
  readonly foreignReleases: number;
  /** Bytes of free slabs held across all classes. */
  readonly retainedBytes: number;
  /** `hits / (hits + misses)`, or 0 before the first pooled acquire. */
  readonly reuseRate: number;
  /** One entry per size class, smallest first. */
  readonly classes: readonly BufferPoolClassStats[];
}

/** Options of {@link WriteBatch}. */
export interface WriteBatchOptions {
  /**
   * Flush on its own on the next tick after the first write of a tick (default `true`). With
   * `false` the caller calls `flush()` when its burst is done.
   */
  readonly autoFlush?: boolean;
}

/**
 * Takes a buffer back once it is no longer used: what {@link WriteBatch} calls for chunks written
 * with an owner. `BufferPool` is one.
 */
export interface BufferReleaser {
  release(buffer: Uint8Array): unknown;
}
