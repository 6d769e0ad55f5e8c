import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RequestBody } from '../../src/router-filter/request-body.js';

function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => {
      resolve(Buffer.concat(chunks));
    });
    stream.once('error', reject);
  });
}

const owner = { onRequestData: (): void => undefined, onRequestEnd: (): void => undefined };

describe('RequestBody: replay for retries', () => {
  it('a retry replays exactly the bytes sent so far and then the rest, when within the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 12 }),
        fc.nat({ max: 12 }),
        fc.integer({ min: 0, max: 4000 }),
        async (chunks, cut, limit) => {
          const source = new PassThrough();
          const body = new RequestBody(source, owner, limit);
          const first = body.attach();
          expect(first).not.toBeNull();
          const split = Math.min(cut, chunks.length);
          for (const chunk of chunks.slice(0, split)) source.write(Buffer.from(chunk));
          await new Promise((resolve) => setImmediate(resolve));
          const sentSoFar = chunks.slice(0, split).reduce((n, c) => n + c.length, 0);
          first?.destroy();
          const retry = body.attach();
          if (sentSoFar > limit) {
            // Over the buffer limit: the body cannot be replayed, so no retry.
            expect(retry).toBeNull();
            expect(body.replayable).toBe(false);
            return;
          }
          expect(retry).not.toBeNull();
          const done = collect(retry as Readable);
          for (const chunk of chunks.slice(split)) source.write(Buffer.from(chunk));
          source.end();
          const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          const replayed = await done;
          if (all.length <= limit) {
            expect(replayed.equals(all)).toBe(true);
            expect(body.buffered()?.equals(all)).toBe(true);
          } else {
            // Went over the limit during the retry: the retry still got every byte, in order.
            expect(replayed.equals(all)).toBe(true);
            expect(body.buffered()).toBeNull();
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('pauses the downstream source while the attempt body is full', async () => {
    const source = new PassThrough({ highWaterMark: 1024 });
    const body = new RequestBody(source, owner, 0);
    const sink = body.attach();
    expect(sink).not.toBeNull();
    // Nobody reads the attempt body: the source must be paused once the sink is full.
    for (let i = 0; i < 256; i++) source.write(Buffer.alloc(1024));
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.isPaused()).toBe(true);
    // The attempt body holds at most its high-water mark; the rest waits in the source.
    expect(sink?.readableLength).toBeLessThanOrEqual(sink?.readableHighWaterMark ?? 0);
    sink?.resume();
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.isPaused()).toBe(false);
  });
});
