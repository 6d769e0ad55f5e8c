import { MeshletError } from '@meshlet/errors';

/**
 * A {@link ByteQueue} read, peek, take or skip asked for bytes the queue does not hold: the
 * offset is negative or not an integer, or offset + width goes past `length`. Nothing was
 * consumed. The message states the offset, the width and the length available.
 */
export class BufferRangeError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_BUFFER_OUT_OF_RANGE';
}

/**
 * {@link WriteBatch.drained} was waiting on (or was called for) a stream that closed, ended or
 * was destroyed before it drained, so it never will. `cause` holds the stream's error, if any.
 */
export class StreamClosedError extends MeshletError {
  static override readonly code: string = 'MESHLET_ERR_STREAM_CLOSED';
}
