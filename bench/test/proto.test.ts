// The protocol scenarios' own parts: the load generators' Bolt frame reader (against
// sofa-bolt-node's bytes, however TCP splits them), the load report a child prints and the
// scenario reads, and the parser of h2load's summary and per-request log.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoltFrameReader, REQUEST, RESPONSE, withId } from '../src/scenarios/bolt/wire.ts';
import { parseH2load } from '../src/scenarios/h2/h2load.ts';
import { LoadRecorder, parseReport } from '../src/scenarios/load/report.ts';

describe('BoltFrameReader', () => {
  it("reads every frame of sofa-bolt-node's bytes once, in order, whatever the chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 0xffffffff })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 50 }),
        (frames, cuts) => {
          const bytes = Buffer.concat(
            frames.map(([isResponse, id]) => withId(isResponse ? RESPONSE : REQUEST, id)),
          );
          const seen: [boolean, number, number][] = [];
          const reader = new BoltFrameReader((id, isResponse, status) => {
            seen.push([isResponse, id, status]);
          });
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length] as number;
            reader.push(bytes.subarray(at, at + size));
            at += size;
          }
          expect(seen).toEqual(frames.map(([isResponse, id]) => [isResponse, id, 0]));
        },
      ),
    );
  });

  it('throws on bytes that are not Bolt v1', () => {
    const reader = new BoltFrameReader(() => undefined);
    expect(() => {
      reader.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    }).toThrow(/not a Bolt v1 frame/);
  });
});

describe('load reports', () => {
  it('counts only calls inside the window, and the child prints what the scenario parses', () => {
    const recorder = new LoadRecorder(1000, 2000);
    recorder.completed(900, 1100); // sent during the warm-up: not measured
    recorder.completed(1100, 1102); // 2 ms
    recorder.completed(1500, 1501); // 1 ms
    recorder.completed(1900, 2100); // completed after the end: not measured
    recorder.failed();
    const report = recorder.report();
    expect(report).toMatchObject({ requests: 2, total: 4, errors: 1, seconds: 1, rps: 2 });
    expect(report.p50Ms).toBeCloseTo(1, 1);
    expect(report.p999Ms).toBeCloseTo(2, 1);
    const stdout = `some log line\n${JSON.stringify(report)}\n`;
    expect(parseReport(stdout)).toEqual(report);
    expect(() => parseReport('no report here\n')).toThrow(/no load report/);
  });
});

describe('parseH2load', () => {
  const summary = (failed: number, codes: string): string => `starting benchmark...
finished in 4.02s, 31230.00 req/s, 2.50MB/s
requests: 93690 total, 93690 started, 93690 done, ${93690 - failed} succeeded, ${failed} failed, 0 errored, 0 timeout
status codes: ${codes}
traffic: 7.51MB (7870018) total, 6.57MB (6888959) headers (space savings 50.51%), 2.28MB (2390030) data
`;

  it('reads requests/s and errors from the summary, percentiles from the per-request log', () => {
    // 1000 requests taking 1..1000 µs.
    const log = Array.from({ length: 1000 }, (_, i) => `1795331129145574\t200\t${i + 1}`).join('\n');
    const r = parseH2load(summary(0, '93690 2xx, 0 3xx, 0 4xx, 0 5xx'), `${log}\n`);
    expect(r).toMatchObject({ rps: 31230, requests: 93690, errors: 0 });
    expect(r.p50Ms).toBeCloseTo(0.5, 3);
    expect(r.p99Ms).toBeCloseTo(0.99, 3);
    expect(r.p999Ms).toBeCloseTo(0.999, 3);
  });

  it('counts failed requests and non-2xx answers as errors, and refuses output it does not know', () => {
    const r = parseH2load(summary(3, '93680 2xx, 1 3xx, 2 4xx, 4 5xx'), '1\t200\t10\n');
    expect(r.errors).toBe(3 + 1 + 2 + 4);
    expect(() => parseH2load('h2load: connection refused', '')).toThrow(/unexpected h2load output/);
  });
});
