import { InvalidArgumentError } from '@meshlet/errors';
import { BufferRangeError } from './errors.js';

const kEmpty: Buffer = Buffer.alloc(0);

// The consumed prefix of the chunk array is compacted away only once it is this long and more
// than half of the array: each compaction moves fewer slots than were consumed since the last
// one, so push and consume stay amortized O(1).
const kCompactThreshold = 32;

/**
 * A queue of received chunks read as one byte stream, for framing protocols: look at a header
 * across chunk boundaries, then take the frame once it is complete.
 *
 * ```
 *   #chunks:  [ undefined | undefined | chunk A | chunk B | chunk C ]
 *                                       ^ #head     (consumed slots are cleared)
 *   chunk A:  [ consumed bytes | unread bytes ... ]
 *                              ^ #headOffset       offset 0 of every read is here
 * ```
 *
 * Chunks are kept by reference, never copied on push. Reads do not consume; `take`, `skip` and
 * `clear` do, and drop the references to chunks they pass so the memory can be collected.
 *
 * @example
 * ```ts
 * const queue = new ByteQueue();
 * socket.on('data', (chunk) => {
 *   queue.push(chunk);
 *   while (queue.length >= 4) {
 *     const size = queue.readUInt32BE(0); // a length-prefixed frame
 *     if (queue.length < 4 + size) break;
 *     queue.skip(4);
 *     onFrame(queue.take(size));
 *   }
 * });
 * ```
 */
export class ByteQueue {
  readonly #chunks: (Buffer | undefined)[];
  #head: number;
  #headOffset: number;
  // The chunk at #head, or kEmpty: spares the fast paths an array load and a bounds check.
  #headChunk: Buffer;
  #length: number;
  // A cursor over the chunks for the slow paths (reads across chunks, searches). Indices only,
  // never chunk references, so it does not keep a consumed chunk alive.
  #cursorIndex: number;
  #cursorPos: number;

  /** An empty queue. */
  constructor() {
    this.#chunks = [];
    this.#head = 0;
    this.#headOffset = 0;
    this.#headChunk = kEmpty;
    this.#length = 0;
    this.#cursorIndex = 0;
    this.#cursorPos = 0;
  }

  /** Unread bytes in the queue. */
  get length(): number {
    return this.#length;
  }

  /** Chunks the queue still references (for diagnostics and tests). */
  get chunkCount(): number {
    return this.#chunks.length - this.#head;
  }

  /**
   * Appends `chunk` without copying it: the caller must not modify it afterwards. A Uint8Array
   * that is not a Buffer is wrapped in a Buffer view of the same memory. Empty chunks are ignored.
   *
   * @throws InvalidArgumentError when `chunk` is not a Uint8Array.
   */
  push(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) {
      throw new InvalidArgumentError('ByteQueue.push: chunk must be a Uint8Array');
    }
    const size = chunk.byteLength;
    if (size === 0) return;
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, size);
    this.#chunks.push(buffer);
    if (this.#length === 0) this.#headChunk = buffer;
    this.#length += size;
  }

  // The integer reads below are written out one by one, as Buffer's own are: each fast path is a
  // direct call to the matching Buffer method, which a shared helper taking the method (or the
  // width) as an argument would turn into a polymorphic call on the hottest path of a codec.

  /** Reads an unsigned 8-bit integer `offset` bytes past the read position, without consuming. @throws BufferRangeError */
  readUInt8(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 1 <= head.length && offset >= 0 && Number.isInteger(offset)) return head[pos] as number;
    this.#seek(offset, 1);
    return this.#nextByte();
  }

  /** Reads a signed 8-bit integer `offset` bytes past the read position, without consuming. @throws BufferRangeError */
  readInt8(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 1 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readInt8(pos);
    this.#seek(offset, 1);
    return (this.#nextByte() << 24) >> 24;
  }

  /** Reads a big-endian unsigned 16-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readUInt16BE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 2 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readUInt16BE(pos);
    this.#seek(offset, 2);
    return this.#nextUIntBE(2);
  }

  /** Reads a little-endian unsigned 16-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readUInt16LE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 2 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readUInt16LE(pos);
    this.#seek(offset, 2);
    return this.#nextUIntLE(2);
  }

  /** Reads a big-endian signed 16-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readInt16BE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 2 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readInt16BE(pos);
    this.#seek(offset, 2);
    return (this.#nextUIntBE(2) << 16) >> 16;
  }

  /** Reads a little-endian signed 16-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readInt16LE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 2 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readInt16LE(pos);
    this.#seek(offset, 2);
    return (this.#nextUIntLE(2) << 16) >> 16;
  }

  /** Reads a big-endian unsigned 32-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readUInt32BE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 4 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readUInt32BE(pos);
    this.#seek(offset, 4);
    return this.#nextUIntBE(4);
  }

  /** Reads a little-endian unsigned 32-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readUInt32LE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 4 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readUInt32LE(pos);
    this.#seek(offset, 4);
    return this.#nextUIntLE(4);
  }

  /** Reads a big-endian signed 32-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readInt32BE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 4 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readInt32BE(pos);
    this.#seek(offset, 4);
    return this.#nextUIntBE(4) | 0;
  }

  /** Reads a little-endian signed 32-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readInt32LE(offset = 0): number {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 4 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readInt32LE(pos);
    this.#seek(offset, 4);
    return this.#nextUIntLE(4) | 0;
  }

  /** Reads a big-endian unsigned 64-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readBigUInt64BE(offset = 0): bigint {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 8 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readBigUInt64BE(pos);
    this.#seek(offset, 8);
    const hi = this.#nextUIntBE(4);
    const lo = this.#nextUIntBE(4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Reads a little-endian unsigned 64-bit integer at `offset`, without consuming. @throws BufferRangeError */
  readBigUInt64LE(offset = 0): bigint {
    const head = this.#headChunk;
    const pos = this.#headOffset + offset;
    if (pos + 8 <= head.length && offset >= 0 && Number.isInteger(offset)) return head.readBigUInt64LE(pos);
    this.#seek(offset, 8);
    const lo = this.#nextUIntLE(4);
    const hi = this.#nextUIntLE(4);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /**
   * The offset (from the read position) of the first occurrence of a byte value or of a byte
   * sequence at or after `fromOffset`, or -1. A sequence may span chunks. An empty sequence is
   * found at `fromOffset` when `fromOffset <= length`.
   *
   * Matches inside one chunk are found by `Buffer#indexOf`; those that straddle a boundary are
   * checked byte by byte, which costs up to `needle.length ** 2` per boundary: meant for
   * delimiters, not for long needles over many tiny chunks.
   *
   * @throws InvalidArgumentError when `value` is not an integer in [0, 255] or a Uint8Array, or
   *   `fromOffset` is not a non-negative integer.
   */
  indexOf(value: number | Uint8Array, fromOffset = 0): number {
    if (!(Number.isInteger(fromOffset) && fromOffset >= 0)) {
      throw new InvalidArgumentError(
        `ByteQueue.indexOf: fromOffset must be a non-negative integer, got ${String(fromOffset)}`,
      );
    }
    if (typeof value === 'number') {
      if (!(Number.isInteger(value) && value >= 0 && value <= 255)) {
        throw new InvalidArgumentError(
          `ByteQueue.indexOf: a byte value must be an integer in [0, 255], got ${String(value)}`,
        );
      }
      return fromOffset < this.#length ? this.#indexOfByte(value, fromOffset) : -1;
    }
    if (!(value instanceof Uint8Array)) {
      throw new InvalidArgumentError('ByteQueue.indexOf: value must be a byte value or a Uint8Array');
    }
    const size = value.length;
    if (size === 0) return fromOffset <= this.#length ? fromOffset : -1;
    if (fromOffset + size > this.#length) return -1;
    if (size === 1) return this.#indexOfByte(value[0] as number, fromOffset);
    return this.#indexOfSequence(value, fromOffset);
  }

  /**
   * Consumes and returns the next `n` bytes: a view of the pushed chunk (no copy) when they lie
   * in one chunk, else one copy into a new Buffer.
   *
   * @throws BufferRangeError when `n` is not an integer in [0, length]; nothing is consumed.
   */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.#consume(n);
    return out;
  }

  /**
   * Returns the next `n` bytes without consuming them: a view of the pushed chunk (no copy) when
   * they lie in one chunk, else one copy into a new Buffer.
   *
   * @throws BufferRangeError when `n` is not an integer in [0, length].
   */
  peek(n: number): Buffer {
    const head = this.#headChunk;
    const start = this.#headOffset;
    if (start + n <= head.length && n > 0 && Number.isInteger(n)) return head.subarray(start, start + n);
    this.#checkCount(n);
    if (n === 0) return Buffer.alloc(0);
    const out = Buffer.allocUnsafe(n);
    const chunks = this.#chunks;
    let index = this.#head;
    let from = start;
    let written = 0;
    while (written < n) {
      const chunk = chunks[index++] as Buffer;
      written += chunk.copy(out, written, from, Math.min(chunk.length, from + n - written));
      from = 0;
    }
    return out;
  }

  /**
   * Consumes `n` bytes without returning them.
   *
   * @throws BufferRangeError when `n` is not an integer in [0, length]; nothing is consumed.
   */
  skip(n: number): void {
    this.#checkCount(n);
    this.#consume(n);
  }

  /** Drops every chunk. */
  clear(): void {
    this.#chunks.length = 0;
    this.#head = 0;
    this.#headOffset = 0;
    this.#headChunk = kEmpty;
    this.#length = 0;
  }

  /** Advances the read position by `n` (already validated) and releases the chunks it passes. */
  #consume(n: number): void {
    if (n === 0) return;
    this.#length -= n;
    if (this.#length === 0) {
      this.clear();
      return;
    }
    const chunks = this.#chunks;
    let head = this.#head;
    let offset = this.#headOffset + n;
    let chunk = this.#headChunk;
    // Invariant: while bytes remain, the head chunk has at least one unread byte; so a chunk
    // read to its end is released here, not on the next call.
    while (offset >= chunk.length) {
      offset -= chunk.length;
      chunks[head++] = undefined;
      chunk = chunks[head] as Buffer;
    }
    this.#headChunk = chunk;
    this.#headOffset = offset;
    if (head > kCompactThreshold && head * 2 > chunks.length) {
      chunks.copyWithin(0, head);
      chunks.length -= head;
      head = 0;
    }
    this.#head = head;
  }

  #checkCount(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.#length)) {
      throw new BufferRangeError(
        `ByteQueue: cannot consume ${String(n)} byte(s) at offset 0: ${this.#length} available`,
      );
    }
  }

  /** Validates a read of `width` bytes at `offset` and points the cursor at its first byte. */
  #seek(offset: number, width: number): void {
    if (!(Number.isInteger(offset) && offset >= 0 && offset + width <= this.#length)) {
      throw new BufferRangeError(
        `ByteQueue: cannot read ${width} byte(s) at offset ${String(offset)}: ${this.#length} available`,
      );
    }
    this.#locate(offset);
  }

  /**
   * Points the cursor at `offset` (< length) and returns the queue offset of the first byte of
   * the cursor's chunk (negative for the head chunk when part of it is consumed).
   */
  #locate(offset: number): number {
    const chunks = this.#chunks;
    let index = this.#head;
    let pos = this.#headOffset + offset;
    let base = -this.#headOffset;
    let chunk = this.#headChunk;
    while (pos >= chunk.length) {
      pos -= chunk.length;
      base += chunk.length;
      chunk = chunks[++index] as Buffer;
    }
    this.#cursorIndex = index;
    this.#cursorPos = pos;
    return base;
  }

  #nextByte(): number {
    const chunk = this.#chunks[this.#cursorIndex] as Buffer;
    const byte = chunk[this.#cursorPos] as number;
    if (++this.#cursorPos === chunk.length) {
      this.#cursorIndex++;
      this.#cursorPos = 0;
    }
    return byte;
  }

  // Multiplication, not `<<`: shifts are 32-bit signed and would turn a top bit into a sign.
  #nextUIntBE(width: number): number {
    let value = 0;
    for (let i = 0; i < width; i++) value = value * 256 + this.#nextByte();
    return value;
  }

  #nextUIntLE(width: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < width; i++) {
      value += this.#nextByte() * scale;
      scale *= 256;
    }
    return value;
  }

  #indexOfByte(byte: number, fromOffset: number): number {
    const chunks = this.#chunks;
    let base = this.#locate(fromOffset);
    let pos = this.#cursorPos;
    for (let index = this.#cursorIndex; index < chunks.length; index++) {
      const chunk = chunks[index] as Buffer;
      const found = chunk.indexOf(byte, pos);
      if (found !== -1) return base + found;
      base += chunk.length;
      pos = 0;
    }
    return -1;
  }

  /** `needle` has at least 2 bytes and fits between `fromOffset` and the end. */
  #indexOfSequence(needle: Uint8Array, fromOffset: number): number {
    const chunks = this.#chunks;
    const size = needle.length;
    const first = needle[0] as number;
    const length = this.#length;
    let base = this.#locate(fromOffset);
    let pos = this.#cursorPos;
    for (let index = this.#cursorIndex; index < chunks.length; index++) {
      const chunk = chunks[index] as Buffer;
      const chunkLength = chunk.length;
      const found = chunk.indexOf(needle, pos);
      if (found !== -1) return base + found;
      // No match lies wholly inside this chunk; one may start in its last size - 1 bytes and
      // run into the next chunks. Those starts all precede any match starting further on.
      let start = chunkLength - size + 1;
      if (start < pos) start = pos;
      while (start < chunkLength) {
        start = chunk.indexOf(first, start);
        if (start === -1) break;
        // Every later start ends even further past the end of the queue.
        if (base + start + size > length) return -1;
        if (this.#matchesAt(needle, index, start)) return base + start;
        start++;
      }
      base += chunkLength;
      pos = 0;
    }
    return -1;
  }

  /** Whether `needle` occurs at position `pos` of chunk `index`; the caller checked it fits. */
  #matchesAt(needle: Uint8Array, index: number, pos: number): boolean {
    const chunks = this.#chunks;
    let chunk = chunks[index] as Buffer;
    for (const byte of needle) {
      if (pos === chunk.length) {
        chunk = chunks[++index] as Buffer;
        pos = 0;
      }
      if (chunk[pos] !== byte) return false;
      pos++;
    }
    return true;
  }
}
