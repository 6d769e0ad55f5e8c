import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertLoopback, parseDuration, parseWrk, runWrk } from '../src/lib/wrk.ts';
import { findTool, inCi } from '../src/lib/tools.ts';

// A report as wrk 4.1 prints it with --latency, a Lua done() hook line, socket errors and non-2xx.
const REPORT = `Running 2s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  612.40us  31.07ms   91.20%
    Req/Sec    33.12k     2.01k   36.40k    78.00%
  Latency Distribution
     50%    1.41ms
     75%    1.60ms
     90%    2.05ms
     99%    3.90ms
  65912 requests in 2.00s, 9.75MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  32956.10
Transfer/sec:      4.87MB
MESHLET_WRK 65912 2001234 1410 2050 3900 8123 31070 13
`;

describe('parseWrk', () => {
  it('reads requests/s, the latency distribution, p99.9 from the hook and the errors', () => {
    const result = parseWrk(REPORT);
    expect(result.requests).toBe(65912);
    expect(result.seconds).toBe(2);
    expect(result.rps).toBe(32956.1);
    expect(result.p50Ms).toBeCloseTo(1.41, 6);
    expect(result.p75Ms).toBeCloseTo(1.6, 6);
    expect(result.p90Ms).toBeCloseTo(2.05, 6);
    expect(result.p99Ms).toBeCloseTo(3.9, 6);
    expect(result.p999Ms).toBeCloseTo(8.123, 6);
    expect(result.maxMs).toBeCloseTo(31.07, 6);
    expect(result.non2xx).toBe(7);
    expect(result.errors).toBe(3 + 1 + 2 + 7);
  });

  it('works without the hook line (p99.9 unknown) and without error lines', () => {
    const plain = REPORT.split('\n')
      .filter((line) => !/MESHLET_WRK|Socket errors|Non-2xx/.test(line))
      .join('\n');
    const result = parseWrk(plain);
    expect(result.errors).toBe(0);
    expect(result.p999Ms).toBeNaN();
    expect(result.maxMs).toBeCloseTo(31.07, 6);
  });

  it('refuses a report without the --latency distribution', () => {
    const noLatency = REPORT.split('\n')
      .filter((line) => !/^\s+\d+%/.test(line))
      .join('\n');
    expect(() => parseWrk(noLatency)).toThrow(/--latency/);
  });

  it('parses wrk durations in every unit', () => {
    expect(parseDuration('812.00us')).toBeCloseTo(0.812, 9);
    expect(parseDuration('1.23ms')).toBeCloseTo(1.23, 9);
    expect(parseDuration('2.00s')).toBe(2000);
    expect(parseDuration('1.50m')).toBe(90_000);
    expect(() => parseDuration('fast')).toThrow(/not a wrk duration/);
  });

  it('sends traffic to loopback only', () => {
    expect(() => {
      assertLoopback('http://127.0.0.1:80/');
    }).not.toThrow();
    expect(() => {
      assertLoopback('http://example.com/');
    }).toThrow(/loopback only/);
  });
});

// The real wrk against a real server: in CI wrk is installed (.ci/run), so this never skips there.
const haveWrk = findTool('wrk') !== undefined;
if (!haveWrk && inCi()) throw new Error('wrk is not installed: .ci/run installs it');
describe.skipIf(!haveWrk)('runWrk', () => {
  let server: Server;
  let port = 0;
  let served = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      served++;
      res.statusCode = req.url === '/missing' ? 404 : 200;
      res.end('hello, world!\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('measures a real server and counts what the server saw', async () => {
    const before = served;
    const result = await runWrk({ url: `http://127.0.0.1:${port}/`, seconds: 1, connections: 4 });
    expect(result.requests).toBeGreaterThan(0);
    // wrk counts completed responses; the server may have answered a few more at the cut-off.
    expect(served - before).toBeGreaterThanOrEqual(result.requests);
    expect(result.errors).toBe(0);
    expect(result.p999Ms).toBeGreaterThanOrEqual(result.p99Ms);
    expect(result.p99Ms).toBeGreaterThanOrEqual(result.p50Ms);
  });

  it('counts non-2xx responses as errors', async () => {
    const result = await runWrk({ url: `http://127.0.0.1:${port}/missing`, seconds: 1, connections: 2 });
    expect(result.non2xx).toBe(result.requests);
    expect(result.errors).toBeGreaterThanOrEqual(result.requests);
  });
});
