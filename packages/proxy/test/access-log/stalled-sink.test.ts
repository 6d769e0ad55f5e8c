import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import type * as model from '@meshlet/xds';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';
import { AccessLogWriter, StreamOutput, type AccessLogCounters } from '../../src/access-log/writer.js';

const { start, upstream, cleanups } = e2eScope();

const log: model.AccessLog = {
  name: 'sink',
  sink: { kind: 'sink', name: 'audit' },
  format: { kind: 'json', json: { code: '%RESPONSE_CODE%', path: '%REQ(:PATH)%' }, omitEmptyValues: false },
};

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function counters(): AccessLogCounters {
  return { queued: 0, written: 0, dropped: 0, flushes: 0, failed: 0 };
}

describe('a stalled access log sink', () => {
  it('leaves the latency flat under steady load, and drops and counts lines past the bound', async () => {
    const a = await upstream('a');
    const config = gateway({
      routes: [route('r', { route: routeAction('a') })],
      clusters: [cluster('a', [a.port])],
      hcm: { accessLog: [log] },
    });
    let fastLines = 0;
    let stalledCalls = 0;
    const fast = await start(config, {
      accessLogs: {
        sinks: {
          audit: (lines) => {
            fastLines += lines.length;
          },
        },
      },
    });
    // Never settles: the proxy must neither wait for it nor buffer without bound.
    const stalled = await start(config, {
      accessLogs: {
        maxQueuedLines: 50,
        closeTimeoutMs: 10,
        sinks: {
          audit: () => {
            stalledCalls++;
            return new Promise<void>(() => undefined);
          },
        },
      },
    });
    const agent = new Agent({ connections: 1 });
    cleanups.push(() => agent.close());
    const timings = { fast: [] as number[], stalled: [] as number[] };
    const total = 300;
    // Interleaved, so that the machine's noise hits both alike.
    for (let i = 0; i < total; i++) {
      for (const [name, proxy] of [
        ['fast', fast],
        ['stalled', stalled],
      ] as const) {
        const t0 = performance.now();
        const res = await request(`${origin(proxy)}/r${String(i)}`, { dispatcher: agent });
        await res.body.text();
        timings[name].push(performance.now() - t0);
      }
    }
    const p50Fast = median(timings.fast.slice(20));
    const p50Stalled = median(timings.stalled.slice(20));
    // Generous: a proxy that waited for its sink would not answer at all.
    expect(p50Stalled).toBeLessThan(p50Fast * 3 + 2);
    expect(stalledCalls).toBe(1);
    const c = stalled.accessLogs.counters;
    expect(stalled.accessLogs.queued).toBe(50);
    // One line was handed to the stalled sink (never written), 50 wait behind it.
    expect(c.written).toBe(0);
    expect(c.queued).toBe(1 + 50);
    expect(c.queued + c.dropped).toBe(total);
    expect(c.dropped).toBeGreaterThan(total - 60);
    // The counters are the proxy's stats too.
    expect(stalled.stats?.text()).toContain(`access_log.lines_dropped: ${String(c.dropped)}`);
    await fast.close();
    expect(fastLines).toBe(total);
    expect(fast.accessLogs.counters.dropped).toBe(0);
  });

  it('waits for a paused stream to drain, drops past the bound, then resumes', async () => {
    const chunks: string[] = [];
    let release: (() => void) | null = null;
    const paused = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, callback) {
        chunks.push(chunk.toString());
        release = callback;
      },
    });
    const c = counters();
    const writer = new AccessLogWriter(new StreamOutput(paused, true), c, 3, (e: unknown) => {
      throw e;
    });
    writer.push('first line, longer than the high-water mark');
    writer.flush();
    expect(chunks).toEqual(['first line, longer than the high-water mark\n']);
    for (let i = 0; i < 10; i++) writer.push(`l${String(i)}`);
    writer.flush();
    expect(writer.queued).toBe(3);
    // The first line is still with the paused stream: handed over, not yet written.
    expect(c).toMatchObject({ queued: 4, written: 0, dropped: 7 });
    (release as unknown as () => void)();
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(chunks[1]).toBe('l0\nl1\nl2\n');
    // The stream took the second batch under its high-water mark: written as soon as handed.
    expect(c).toMatchObject({ written: 4, dropped: 7, flushes: 2 });
    (release as unknown as () => void)();
    await writer.close(100);
    expect(c.written).toBe(4);
    expect(paused.writableEnded).toBe(true);
  });

  it('counts lines a sink rejects as failed, and reports the error', async () => {
    const c = counters();
    const reported: unknown[] = [];
    const writer = new AccessLogWriter(
      {
        write: (_lines, done) => {
          done(new Error('disk full'));
        },
        close: () => Promise.resolve(),
      },
      c,
      10,
      (e) => reported.push(e),
    );
    writer.push('a');
    writer.push('b');
    await writer.close(100);
    expect(c).toMatchObject({ queued: 2, written: 0, failed: 2 });
    expect(reported).toHaveLength(1);
  });
});
