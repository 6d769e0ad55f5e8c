// The RPC proxy's shared flush scheduler: what several callbacks of one event-loop turn write
// into a connection's batch leaves in one vectored write, after the turn's I/O, in order.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '@meshlet/buffer';
import { FlushScheduler } from '../../src/rpc/flush-scheduler.js';

/** A Writable recording each write call it gets (one entry per `_write` or `_writev`). */
function recorder(): { stream: Writable; calls: string[][] } {
  const calls: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk.toString()]);
      callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      callback();
    },
  });
  return { stream, calls };
}

function write(scheduler: FlushScheduler, batch: WriteBatch, ...parts: string[]): void {
  const before = batch.pendingCount;
  for (const p of parts) batch.write(Buffer.from(p));
  scheduler.schedule(batch, before);
}

describe('FlushScheduler', () => {
  it('writes what several callbacks of one turn queued in one writev per stream, in order', async () => {
    const scheduler = new FlushScheduler();
    const a = recorder();
    const b = recorder();
    const batchA = new WriteBatch(a.stream, { autoFlush: false });
    const batchB = new WriteBatch(b.stream, { autoFlush: false });
    // Three "reads" of the same turn, each as its own macrotask would run them: nothing is
    // written until the turn's I/O is over.
    write(scheduler, batchA, 'a1', 'a2');
    write(scheduler, batchB, 'b1');
    await Promise.resolve();
    write(scheduler, batchA, 'a3');
    process.nextTick(() => {
      write(scheduler, batchB, 'b2');
    });
    await new Promise((resolve) => {
      process.nextTick(resolve);
    });
    expect(a.calls).toEqual([]);
    expect(b.calls).toEqual([]);
    await nextTurn();
    expect(a.calls).toEqual([['a1', 'a2', 'a3']]);
    expect(b.calls).toEqual([['b1', 'b2']]);
    // The next turn's writes are a new batch.
    write(scheduler, batchA, 'a4');
    await nextTurn();
    expect(a.calls).toEqual([['a1', 'a2', 'a3'], ['a4']]);
  });

  it('leaves nothing behind when a batch flushed itself meanwhile (end) or its stream closed', async () => {
    const scheduler = new FlushScheduler();
    const a = recorder();
    const batchA = new WriteBatch(a.stream, { autoFlush: false });
    write(scheduler, batchA, 'last');
    batchA.end();
    expect(a.calls).toEqual([['last']]);
    await nextTurn();
    expect(a.calls).toEqual([['last']]);

    const c = recorder();
    const batchC = new WriteBatch(c.stream, { autoFlush: false });
    write(scheduler, batchC, 'lost');
    c.stream.destroy();
    await nextTurn();
    expect(c.calls).toEqual([]);
    expect(batchC.pendingCount).toBe(0);
  });
});
