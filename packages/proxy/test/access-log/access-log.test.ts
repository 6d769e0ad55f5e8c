import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import type * as model from '@meshlet/xds';
import { ConfigError, createProxy } from '../../src/index.js';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { start, upstream } = e2eScope();

/** A sink collecting lines; `next(n)` resolves once `n` lines in all have arrived. */
function collector(): {
  lines: string[];
  sink: (lines: readonly string[]) => void;
  next: (n: number) => Promise<void>;
} {
  const lines: string[] = [];
  let waiting: { n: number; resolve: () => void } | null = null;
  return {
    lines,
    sink: (batch) => {
      lines.push(...batch);
      if (waiting !== null && lines.length >= waiting.n) {
        waiting.resolve();
        waiting = null;
      }
    },
    next: (n) =>
      lines.length >= n
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            waiting = { n, resolve };
          }),
  };
}

function sinkLog(
  format: model.AccessLogFormat,
  filter?: model.AccessLogFilter,
  name = 'test',
): model.AccessLog {
  return { name: 'lines', sink: { kind: 'sink', name }, format, ...(filter !== undefined ? { filter } : {}) };
}

async function proxied(
  accessLog: model.AccessLog[],
  sinks: Record<string, (lines: readonly string[]) => void>,
) {
  const a = await upstream('a', (req, res) => {
    req.resume();
    if (req.url === '/slow') {
      // The head comes 40 ms after the request: the response duration shows it.
      setTimeout(() => res.end('late'), 40);
      return;
    }
    if (req.url === '/missing') {
      res.statusCode = 404;
      res.end('no');
      return;
    }
    res.setHeader('x-up', 'yes');
    res.end('hello');
  });
  const proxy = await start(
    gateway({
      routes: [route('to-a', { route: routeAction('a') })],
      clusters: [cluster('a', [a.port])],
      hcm: { accessLog },
    }),
    { accessLogs: { sinks } },
  );
  return { a, proxy };
}

describe('access logs', () => {
  it('writes Envoy format strings for real traffic', async () => {
    const c = collector();
    const { a, proxy } = await proxied(
      [
        sinkLog({
          kind: 'text',
          text: '%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_SENT% %UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME% %RESP(X-UP)% %REQ(X-NONE)% %REQ(USER-AGENT):3% %UPSTREAM_REQUEST_ATTEMPT_COUNT% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %START_TIME(%Y)% 100%%\n',
        }),
      ],
      { test: c.sink },
    );
    await (await request(`${origin(proxy)}/hi?x=1`, { headers: { 'user-agent': 'curl/8' } })).body.text();
    await c.next(1);
    const year = new Date().getUTCFullYear();
    expect(c.lines).toEqual([
      `GET /hi?x=1 HTTP/1.1 200 - 5 127.0.0.1:${String(a.port)} a to-a yes - cur 1 127.0.0.1 ${String(year)} 100%`,
    ]);
  });

  it('times the request, the upstream response and its transfer (%REQUEST_DURATION%, %RESPONSE_DURATION%, %RESPONSE_TX_DURATION%)', async () => {
    const c = collector();
    const { proxy } = await proxied(
      [
        sinkLog({
          kind: 'json',
          json: {
            request: '%REQUEST_DURATION%',
            response: '%RESPONSE_DURATION%',
            tx: '%RESPONSE_TX_DURATION%',
            total: '%DURATION%',
          },
          omitEmptyValues: false,
        }),
      ],
      { test: c.sink },
    );
    await (await request(`${origin(proxy)}/slow`, { method: 'POST', body: 'x'.repeat(1000) })).body.text();
    await c.next(1);
    const t = JSON.parse(c.lines[0] as string) as Record<string, number>;
    for (const v of Object.values(t)) expect(typeof v).toBe('number');
    expect(t.request).toBeLessThanOrEqual(t.response as number);
    expect(t.response).toBeGreaterThanOrEqual(35);
    expect(t.response as number).toBeLessThanOrEqual(t.total as number);
    expect((t.response as number) + (t.tx as number)).toBeLessThanOrEqual((t.total as number) + 1);
  });

  it('writes the default format when none is given', async () => {
    const c = collector();
    const { a, proxy } = await proxied([sinkLog({ kind: 'default' })], { test: c.sink });
    await (await request(`${origin(proxy)}/p`, { headers: { 'x-request-id': 'rid-1' } })).body.text();
    await c.next(1);
    expect(c.lines[0]).toMatch(
      new RegExp(
        `^\\[\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\] "GET /p HTTP/1\\.1" 200 - 0 5 \\d+ \\d+ "-" "-" "rid-1" "127\\.0\\.0\\.1:\\d+" "127\\.0\\.0\\.1:${String(a.port)}"$`,
      ),
    );
  });

  it('writes JSON lines with typed values, nulls for missing ones, and nested objects', async () => {
    const c = collector();
    const { proxy } = await proxied(
      [
        sinkLog({
          kind: 'json',
          json: {
            status: '%RESPONSE_CODE%',
            path: '%REQ(:PATH)%',
            missing: '%REQ(X-NONE)%',
            up: { cluster: '%UPSTREAM_CLUSTER%', attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%' },
            text: 'took %DURATION% ms',
            constant: 7,
          },
          omitEmptyValues: false,
        }),
        sinkLog({
          kind: 'json',
          json: { missing: '%REQ(X-NONE)%', code: '%RESPONSE_CODE%' },
          omitEmptyValues: true,
        }),
      ],
      { test: c.sink },
    );
    await (await request(`${origin(proxy)}/j`)).body.text();
    await c.next(2);
    const first = JSON.parse(c.lines[0] ?? '') as Record<string, unknown>;
    expect(first).toMatchObject({
      status: 200,
      path: '/j',
      missing: null,
      up: { cluster: 'a', attempts: 1 },
      constant: 7,
    });
    expect(first.text).toMatch(/^took \d+ ms$/);
    expect(JSON.parse(c.lines[1] ?? '')).toEqual({ code: 200 });
  });

  it('applies filters: status code, response flags, header, and/or', async () => {
    const errors = collector();
    const flagged = collector();
    const tagged = collector();
    const { proxy } = await proxied(
      [
        sinkLog(
          { kind: 'text', text: '%RESPONSE_CODE% %REQ(:PATH)%' },
          { kind: 'status_code', comparison: { op: 'GE', value: 400 } },
          'errors',
        ),
        sinkLog({ kind: 'text', text: '%RESPONSE_FLAGS%' }, { kind: 'response_flag', flags: [] }, 'flagged'),
        sinkLog(
          { kind: 'text', text: '%REQ(:PATH)%' },
          {
            kind: 'or',
            filters: [
              {
                kind: 'header',
                header: {
                  name: 'x-tag',
                  presentMatch: true,
                  invertMatch: false,
                  treatMissingHeaderAsEmpty: false,
                },
              },
              {
                kind: 'and',
                filters: [
                  { kind: 'not_health_check' },
                  { kind: 'duration', comparison: { op: 'GE', value: 60_000 } },
                ],
              },
            ],
          },
          'tagged',
        ),
      ],
      { errors: errors.sink, flagged: flagged.sink, tagged: tagged.sink },
    );
    await (await request(`${origin(proxy)}/ok`)).body.text();
    await (await request(`${origin(proxy)}/missing`, { headers: { 'x-tag': '1' } })).body.text();
    await proxy.close();
    expect(errors.lines).toEqual(['404 /missing']);
    expect(flagged.lines).toEqual([]);
    expect(tagged.lines).toEqual(['/missing']);
    expect(proxy.accessLogs.counters).toMatchObject({ queued: 2, written: 2, dropped: 0, failed: 0 });
  });

  it('logs response flags of local replies (no healthy upstream)', async () => {
    const c = collector();
    const proxy = await start(
      gateway({
        routes: [route('r', { route: routeAction('empty') })],
        clusters: [cluster('empty', [])],
        hcm: {
          accessLog: [sinkLog({ kind: 'text', text: '%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_HOST%' })],
        },
      }),
      { accessLogs: { sinks: { test: c.sink } } },
    );
    await (await request(`${origin(proxy)}/`)).body.text();
    await c.next(1);
    expect(c.lines).toEqual(['503 UH -']);
  });

  it('appends to a file, one writer per path, flushed on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshlet-access-log-'));
    const path = join(dir, 'access.log');
    writeFileSync(path, 'before\n');
    const fileLog = (text: string): model.AccessLog => ({
      name: 'file',
      sink: { kind: 'file', path },
      format: { kind: 'text', text },
    });
    const { proxy } = await proxied([fileLog('one %REQ(:PATH)%'), fileLog('two %RESPONSE_CODE%')], {});
    for (const p of ['/a', '/b']) await (await request(`${origin(proxy)}${p}`)).body.text();
    await proxy.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe('before');
    expect(lines.slice(1).sort()).toEqual(['', 'one /a', 'one /b', 'two 200', 'two 200']);
  });

  it('rejects unknown sinks and command operators at config time', async () => {
    const a = await upstream('a');
    const config = (log: model.AccessLog) =>
      gateway({
        routes: [route('r', { route: routeAction('a') })],
        clusters: [cluster('a', [a.port])],
        hcm: { accessLog: [log] },
      });
    expect(() => createProxy({ config: config(sinkLog({ kind: 'default' }, undefined, 'nope')) })).toThrow(
      /no access log sink "nope"/,
    );
    expect(() =>
      createProxy({
        config: config(sinkLog({ kind: 'text', text: '%NOT_AN_OPERATOR%' })),
        accessLogs: { sinks: { test: () => undefined } },
      }),
    ).toThrow(ConfigError);
    expect(() =>
      createProxy({
        config: config(sinkLog({ kind: 'text', text: 'load 50% done' })),
        accessLogs: { sinks: { test: () => undefined } },
      }),
    ).toThrow(/starts no command operator/);
  });
});
