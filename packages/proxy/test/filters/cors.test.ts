import { ConfigError } from '@meshlet/errors';
import type { CorsPolicy } from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import { corsFilter } from '../../src/filters/index.js';
import { type RequestOptions, TestContext, TestEnv, route, run, stage } from './context.js';

const policy: CorsPolicy = {
  allowOriginStringMatch: [
    { exact: 'https://app.example.com', ignoreCase: false },
    { suffix: '.trusted.dev', ignoreCase: true },
  ],
  allowMethods: 'GET, POST, PUT',
  allowHeaders: 'content-type, x-token',
  exposeHeaders: 'x-request-id',
  maxAge: '600',
  allowCredentials: true,
  allowPrivateNetworkAccess: true,
  forwardNotMatchingPreflights: true,
};

const filterLevel = stage(corsFilter, { type: 'cors' }, new TestEnv('cors'));

function preflight(
  origin: string,
  extra: Record<string, string> = {},
  cors: CorsPolicy = policy,
): RequestOptions {
  return {
    method: 'OPTIONS',
    route: route({ cors }),
    headers: { origin, 'access-control-request-method': 'PUT', ...extra },
  };
}

describe('cors filter', () => {
  it('answers a preflight from an allowed origin locally with the allow headers', async () => {
    const ctx = await run(new TestContext(preflight('https://app.example.com')), [filterLevel]);
    expect(ctx.replied).toBe(true);
    expect(ctx.response?.status).toBe(200);
    expect(ctx.response?.headers).toEqual({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'GET, POST, PUT',
      'access-control-allow-headers': 'content-type, x-token',
      'access-control-max-age': '600',
    });
    expect(ctx.info.responseCodeDetails).toBe('cors_response');
  });

  it('private network access is allowed only when asked for and configured', async () => {
    const asked = await run(
      new TestContext(
        preflight('https://app.example.com', { 'access-control-request-private-network': 'true' }),
      ),
      [filterLevel],
    );
    expect(asked.response?.headers['access-control-allow-private-network']).toBe('true');
    const off = await run(
      new TestContext(
        preflight(
          'https://app.example.com',
          { 'access-control-request-private-network': 'true' },
          { ...policy, allowPrivateNetworkAccess: false },
        ),
      ),
      [filterLevel],
    );
    expect(off.response?.headers['access-control-allow-private-network']).toBeUndefined();
  });

  it('"*" methods and headers echo the request', async () => {
    const star = { ...policy, allowMethods: '*', allowHeaders: '*' };
    const ctx = await run(
      new TestContext(
        preflight('https://x.TRUSTED.dev', { 'access-control-request-headers': 'x-a, x-b' }, star),
      ),
      [filterLevel],
    );
    expect(ctx.response?.headers['access-control-allow-methods']).toBe('PUT');
    expect(ctx.response?.headers['access-control-allow-headers']).toBe('x-a, x-b');
    expect(ctx.response?.headers['access-control-allow-origin']).toBe('https://x.TRUSTED.dev');
  });

  it('a preflight from another origin is forwarded by default, answered without allow-origin otherwise', async () => {
    const forwarded = await run(new TestContext(preflight('https://evil.com')), [filterLevel], {
      status: 204,
    });
    expect(forwarded.replied).toBe(false);
    expect(forwarded.response?.status).toBe(204);
    expect(forwarded.response?.headers['access-control-allow-origin']).toBeUndefined();
    const answered = await run(
      new TestContext(preflight('https://evil.com', {}, { ...policy, forwardNotMatchingPreflights: false })),
      [filterLevel],
    );
    expect(answered.replied).toBe(true);
    expect(answered.response?.status).toBe(200);
    expect(answered.response?.headers['access-control-allow-origin']).toBeUndefined();
    expect(answered.response?.headers['access-control-allow-methods']).toBe('GET, POST, PUT');
  });

  it('an OPTIONS without access-control-request-method is not a preflight', async () => {
    const ctx = await run(
      new TestContext({
        method: 'OPTIONS',
        route: route({ cors: policy }),
        headers: { origin: 'https://app.example.com' },
      }),
      [filterLevel],
    );
    expect(ctx.replied).toBe(false);
    expect(ctx.response?.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('a simple request from an allowed origin gets allow-origin, credentials and expose headers', async () => {
    const ctx = await run(
      new TestContext({
        method: 'GET',
        route: route({ cors: policy }),
        headers: { origin: 'https://app.example.com' },
      }),
      [filterLevel],
      { status: 200, headers: { 'content-type': 'text/plain' } },
    );
    expect(ctx.replied).toBe(false);
    expect(ctx.response?.headers).toEqual({
      'content-type': 'text/plain',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-expose-headers': 'x-request-id',
    });
  });

  it('no CORS headers for another origin, without an origin, or without a policy', async () => {
    for (const options of [
      { route: route({ cors: policy }), headers: { origin: 'https://app.example.com.evil.com' } },
      { route: route({ cors: policy }) },
      { route: route(), headers: { origin: 'https://app.example.com' } },
      { headers: { origin: 'https://app.example.com' } },
    ]) {
      const ctx = await run(new TestContext(options), [filterLevel]);
      expect(Object.keys(ctx.response?.headers ?? {})).toEqual([]);
    }
  });

  it('a matcher that accepts "*" allows every origin', async () => {
    const ctx = await run(
      new TestContext({
        route: route({ cors: { ...policy, allowOriginStringMatch: [{ exact: '*', ignoreCase: false }] } }),
        headers: { origin: 'https://anyone.org' },
      }),
      [filterLevel],
    );
    expect(ctx.response?.headers['access-control-allow-origin']).toBe('https://anyone.org');
  });

  it('a per-route CorsPolicy config takes precedence over the route cors field', async () => {
    const perRoute = stage(
      corsFilter,
      {
        type: 'cors',
        policy: { ...policy, allowOriginStringMatch: [{ exact: 'https://other.com', ignoreCase: false }] },
      },
      new TestEnv('cors'),
    );
    const options = { route: route({ cors: policy }), headers: { origin: 'https://other.com' } };
    expect(
      (await run(new TestContext(options), [perRoute])).response?.headers['access-control-allow-origin'],
    ).toBe('https://other.com');
    expect(
      (await run(new TestContext(options), [filterLevel])).response?.headers['access-control-allow-origin'],
    ).toBeUndefined();
  });

  it('compiles a route policy once per policy object', async () => {
    const cors = { ...policy };
    const s = stage(corsFilter, { type: 'cors' }, new TestEnv('cors'));
    await run(new TestContext({ route: route({ cors }), headers: { origin: 'https://app.example.com' } }), [
      s,
    ]);
    const compiled = s.config.compiled.get(cors);
    expect(compiled).toBeDefined();
    await run(new TestContext({ route: route({ cors }), headers: { origin: 'https://app.example.com' } }), [
      s,
    ]);
    expect(s.config.compiled.get(cors)).toBe(compiled);
  });

  it('a route policy that does not compile allows no origin, and never throws', async () => {
    const broken = { ...policy, allowOriginStringMatch: [{ safeRegex: '(unclosed', ignoreCase: false }] };
    const simple = await run(
      new TestContext({ route: route({ cors: broken }), headers: { origin: 'https://app.example.com' } }),
      [filterLevel],
    );
    expect(simple.response?.headers['access-control-allow-origin']).toBeUndefined();
    const pre = await run(new TestContext(preflight('https://app.example.com', {}, broken)), [filterLevel]);
    expect(pre.replied).toBe(false);
  });

  it('config errors name the field', () => {
    const env = new TestEnv('cors');
    expect(() =>
      corsFilter.configure({ type: 'cors', policy: { ...policy, allowCredentials: 'yes' } }, env),
    ).toThrow('cors: policy.allowCredentials ');
    expect(() =>
      corsFilter.configure(
        { type: 'cors', policy: { ...policy, allowOriginStringMatch: [{ prefix: '', ignoreCase: false }] } },
        env,
      ),
    ).toThrow(ConfigError);
    expect(() =>
      corsFilter.configure({ type: 'cors', policy: { ...policy, maxAge: '1\r\nx: y' } }, env),
    ).toThrow('cors: policy.maxAge ');
    expect(() => corsFilter.configure({ type: 'cors_policy' }, env)).toThrow('cors: type ');
  });
});
