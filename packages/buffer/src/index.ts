export { BufferPool } from './buffer-pool.js';
export { ByteQueue } from './byte-queue.js';
export { WriteBatch } from './write-batch.js';
export { BufferRangeError, StreamClosedError } from './errors.js';
export type {
  BufferPoolClassStats,
  BufferPoolOptions,
  BufferPoolStats,
  BufferReleaser,
  WriteBatchOptions,
} from './types.js';
// Re-exported so that users of this package alone can catch what it throws.
export { ConfigError, InvalidArgumentError, MeshletError } from '@meshlet/errors';
