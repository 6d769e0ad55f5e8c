import { ConfigError } from '@meshlet/errors';
import type { HeaderMatcher, RbacConfig, RbacPermission, RbacPrincipal, StringMatcher } from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import { RBAC_METADATA, type RbacMetadata, rbacFilter } from '../../src/filters/index.js';
import { type RequestOptions, TestContext, TestEnv, run, stage } from './context.js';

const exact = (value: string): StringMatcher => ({ exact: value, ignoreCase: false });
const header = (name: string, m: Partial<HeaderMatcher>): HeaderMatcher => ({
  name,
  invertMatch: false,
  treatMissingHeaderAsEmpty: false,
  ...m,
});

function rbac(config: Omit<RbacConfig, 'type'>) {
  return stage(rbacFilter, { type: 'rbac', ...config }, new TestEnv('envoy.filters.http.rbac'));
}

function policy(permissions: RbacPermission[], principals: RbacPrincipal[] = [{ any: true }]) {
  return { permissions, principals };
}

async function status(s: ReturnType<typeof rbac>, options: RequestOptions = {}): Promise<number> {
  return (await run(new TestContext(options), [s])).response?.status ?? 0;
}

describe('rbac filter', () => {
  it('ALLOW: only requests matching a policy pass; others get 403 RBAC: access denied, UAEX', async () => {
    const s = rbac({
      rules: {
        action: 'ALLOW',
        policies: {
          office: policy([{ any: true }], [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }]),
        },
      },
    });
    expect(await status(s, { connection: { remoteAddress: '10.1.2.3' } })).toBe(200);
    const denied = await run(new TestContext({ connection: { remoteAddress: '192.168.1.1' } }), [s]);
    expect(denied.response?.status).toBe(403);
    expect(denied.replyBody).toBe('RBAC: access denied');
    expect(denied.info.responseFlags.has('UAEX')).toBe(true);
    expect(denied.info.responseCodeDetails).toBe('rbac_access_denied_matched_policy[none]');
    expect(s.config.stats).toMatchObject({ allowed: 1, denied: 1 });
  });

  it('DENY: requests matching a policy get 403 naming it', async () => {
    const s = rbac({
      rules: {
        action: 'DENY',
        policies: { admin: policy([{ urlPath: { prefix: '/admin', ignoreCase: true } }]) },
      },
    });
    expect(await status(s, { path: '/public' })).toBe(200);
    const denied = await run(new TestContext({ path: '/ADMIN/users?x=1' }), [s]);
    expect(denied.response?.status).toBe(403);
    expect(denied.info.responseCodeDetails).toBe('rbac_access_denied_matched_policy[admin]');
  });

  it('no rules: every request allowed', async () => {
    expect(await status(rbac({}))).toBe(200);
  });

  it('LOG: everything passes, a match sets the access log hint', async () => {
    const s = rbac({
      rules: {
        action: 'LOG',
        policies: { p: policy([{ header: header(':method', { stringMatch: exact('POST') }) }]) },
      },
    });
    const post = await run(new TestContext({ method: 'POST' }), [s]);
    expect(post.response?.status).toBe(200);
    expect((post.state.get(RBAC_METADATA) as RbacMetadata).accessLogHint).toBe(true);
    const get = await run(new TestContext({ method: 'GET' }), [s]);
    expect(get.state.get(RBAC_METADATA)).toBeUndefined();
    expect(s.config.stats).toMatchObject({ logged: 1, notLogged: 1 });
  });

  it('shadow rules are evaluated and recorded, never enforced', async () => {
    const s = rbac({
      shadowRules: {
        action: 'DENY',
        policies: {
          'no-bots': policy([
            { header: header('user-agent', { stringMatch: { contains: 'bot', ignoreCase: true } }) },
          ]),
        },
      },
    });
    const bot = await run(new TestContext({ headers: { 'user-agent': 'GoogleBot/2.1' } }), [s]);
    expect(bot.response?.status).toBe(200);
    expect(bot.state.get(RBAC_METADATA)).toMatchObject({
      shadowEngineResult: 'denied',
      shadowEffectivePolicyId: 'no-bots',
    });
    const human = await run(new TestContext({ headers: { 'user-agent': 'Firefox' } }), [s]);
    expect(human.state.get(RBAC_METADATA)).toMatchObject({
      shadowEngineResult: 'allowed',
      shadowEffectivePolicyId: '',
    });
    expect(s.config.stats).toMatchObject({ shadowDenied: 1, shadowAllowed: 1, denied: 0 });
  });

  it('enforced and shadow rules together: shadow recorded, enforced decides', async () => {
    const s = rbac({
      rules: { action: 'ALLOW', policies: { all: policy([{ any: true }]) } },
      shadowRules: { action: 'ALLOW', policies: { none: policy([{ destinationPort: 1 }]) } },
    });
    const ctx = await run(new TestContext(), [s]);
    expect(ctx.response?.status).toBe(200);
    expect(ctx.state.get(RBAC_METADATA)).toMatchObject({ shadowEngineResult: 'denied' });
  });

  it('the first matching policy in name order is reported', async () => {
    const s = rbac({
      rules: { action: 'DENY', policies: { zeta: policy([{ any: true }]), alpha: policy([{ any: true }]) } },
    });
    const ctx = await run(new TestContext(), [s]);
    expect(ctx.info.responseCodeDetails).toBe('rbac_access_denied_matched_policy[alpha]');
  });

  describe('permissions', () => {
    const allowIf = (p: RbacPermission) => rbac({ rules: { action: 'ALLOW', policies: { p: policy([p]) } } });

    it('header, including :method, :path, :authority and multi-valued headers', async () => {
      expect(
        await status(allowIf({ header: header(':method', { stringMatch: exact('GET') }) }), {
          method: 'GET',
        }),
      ).toBe(200);
      expect(
        await status(allowIf({ header: header(':method', { stringMatch: exact('GET') }) }), {
          method: 'PUT',
        }),
      ).toBe(403);
      expect(
        await status(
          allowIf({
            header: header(':authority', { stringMatch: { suffix: '.example.com', ignoreCase: false } }),
          }),
          { authority: 'api.example.com' },
        ),
      ).toBe(200);
      expect(
        await status(
          allowIf({ header: header(':path', { stringMatch: { prefix: '/v1', ignoreCase: false } }) }),
          { path: '/v2' },
        ),
      ).toBe(403);
      expect(
        await status(allowIf({ header: header('x-a', { stringMatch: exact('1,2') }) }), {
          headers: { 'x-a': ['1', '2'] },
        }),
      ).toBe(200);
      expect(await status(allowIf({ header: header('x-a', { presentMatch: true }) }), {})).toBe(403);
      expect(
        await status(allowIf({ header: header('x-a', { presentMatch: true, invertMatch: true }) }), {}),
      ).toBe(200);
      expect(
        await status(allowIf({ header: header('x-n', { rangeMatch: { start: 10, end: 20 } }) }), {
          headers: { 'x-n': '19' },
        }),
      ).toBe(200);
      expect(
        await status(allowIf({ header: header('x-n', { rangeMatch: { start: 10, end: 20 } }) }), {
          headers: { 'x-n': '20' },
        }),
      ).toBe(403);
    });

    it('urlPath ignores the query; regex is RE2, whole value', async () => {
      const p = allowIf({ urlPath: { safeRegex: '/users/[0-9]+', ignoreCase: false } });
      expect(await status(p, { path: '/users/42?debug=1' })).toBe(200);
      expect(await status(p, { path: '/users/42/x' })).toBe(403);
    });

    it('destination IP, port, port range, requested server name', async () => {
      expect(await status(allowIf({ destinationIp: { addressPrefix: '127.0.0.0', prefixLen: 8 } }))).toBe(
        200,
      );
      expect(await status(allowIf({ destinationIp: { addressPrefix: '::1', prefixLen: 128 } }))).toBe(403);
      expect(await status(allowIf({ destinationPort: 8080 }))).toBe(200);
      expect(await status(allowIf({ destinationPort: 443 }))).toBe(403);
      expect(await status(allowIf({ destinationPortRange: { start: 8000, end: 8080 } }))).toBe(403);
      expect(await status(allowIf({ destinationPortRange: { start: 8000, end: 8081 } }))).toBe(200);
      const sni = allowIf({ requestedServerName: { suffix: '.internal', ignoreCase: false } });
      expect(await status(sni, { connection: { tls: true, serverName: 'db.internal' } })).toBe(200);
      expect(await status(sni)).toBe(403);
    });

    it('and, or, not', async () => {
      const get = { header: header(':method', { stringMatch: exact('GET') }) };
      const api = { urlPath: { prefix: '/api', ignoreCase: false } };
      const p = allowIf({ andRules: [get, { notRule: api }] });
      expect(await status(p, { method: 'GET', path: '/home' })).toBe(200);
      expect(await status(p, { method: 'GET', path: '/api/x' })).toBe(403);
      expect(await status(p, { method: 'POST', path: '/home' })).toBe(403);
      const q = allowIf({ orRules: [get, api] });
      expect(await status(q, { method: 'POST', path: '/api' })).toBe(200);
      expect(await status(q, { method: 'POST', path: '/x' })).toBe(403);
    });
  });

  describe('principals', () => {
    const allowFrom = (p: RbacPrincipal) =>
      rbac({ rules: { action: 'ALLOW', policies: { p: policy([{ any: true }], [p]) } } });

    it('sourceIp and directRemoteIp use the peer address, IPv4-mapped included', async () => {
      for (const key of ['sourceIp', 'directRemoteIp'] as const) {
        const p = allowFrom({ [key]: { addressPrefix: '127.0.0.1', prefixLen: 32 } });
        expect(await status(p, { connection: { remoteAddress: '::ffff:127.0.0.1' } }), key).toBe(200);
        expect(await status(p, { connection: { remoteAddress: '127.0.0.2' } }), key).toBe(403);
        // x-forwarded-for does not fool them.
        expect(
          await status(p, {
            connection: { remoteAddress: '10.0.0.9' },
            downstreamRemoteAddress: '127.0.0.1',
          }),
          key,
        ).toBe(403);
      }
      const v6 = allowFrom({ directRemoteIp: { addressPrefix: '2001:db8::', prefixLen: 32 } });
      expect(await status(v6, { connection: { remoteAddress: '2001:db8:1::7' } })).toBe(200);
      expect(await status(v6, { connection: { remoteAddress: '2001:db9::7' } })).toBe(403);
    });

    it('remoteIp uses the client address the connection manager trusts, else the peer', async () => {
      const p = allowFrom({ remoteIp: { addressPrefix: '203.0.113.0', prefixLen: 24 } });
      expect(
        await status(p, {
          connection: { remoteAddress: '10.0.0.9' },
          downstreamRemoteAddress: '203.0.113.7',
        }),
      ).toBe(200);
      expect(
        await status(p, {
          connection: { remoteAddress: '203.0.113.7' },
          downstreamRemoteAddress: '10.0.0.9',
        }),
      ).toBe(403);
      expect(await status(p, { connection: { remoteAddress: '203.0.113.7' } })).toBe(200);
    });

    it('authenticated: any TLS connection; a principal name never matches (no peer certificate yet)', async () => {
      const any = allowFrom({ authenticated: {} });
      expect(await status(any, { connection: { tls: true } })).toBe(200);
      expect(await status(any)).toBe(403);
      const named = allowFrom({
        authenticated: { principalName: exact('spiffe://cluster.local/ns/default/sa/web') },
      });
      expect(await status(named, { connection: { tls: true } })).toBe(403);
    });

    it('header, urlPath, andIds, orIds, notId', async () => {
      const token = { header: header('x-token', { stringMatch: exact('s3cret') }) };
      const internal = { directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } };
      const p = allowFrom({
        orIds: [
          token,
          { andIds: [internal, { notId: { urlPath: { prefix: '/admin', ignoreCase: false } } }] },
        ],
      });
      expect(await status(p, { headers: { 'x-token': 's3cret' } })).toBe(200);
      expect(await status(p, { connection: { remoteAddress: '10.0.0.5' }, path: '/x' })).toBe(200);
      expect(await status(p, { connection: { remoteAddress: '10.0.0.5' }, path: '/admin' })).toBe(403);
      expect(await status(p, { path: '/x' })).toBe(403);
    });
  });

  describe('config errors', () => {
    const env = new TestEnv('authz');
    const bad: [string, unknown][] = [
      ['rules.action', { type: 'rbac', rules: { action: 'MAYBE', policies: {} } }],
      [
        'rules.policies["p"].permissions',
        {
          type: 'rbac',
          rules: { action: 'ALLOW', policies: { p: { permissions: [], principals: [{ any: true }] } } },
        },
      ],
      [
        'rules.policies["p"].principals[0]',
        {
          type: 'rbac',
          rules: {
            action: 'ALLOW',
            policies: {
              p: {
                permissions: [{ any: true }],
                principals: [{ any: true, sourceIp: { addressPrefix: '1.1.1.1', prefixLen: 32 } }],
              },
            },
          },
        },
      ],
      [
        'rules.policies["p"].principals[0].sourceIp',
        {
          type: 'rbac',
          rules: {
            action: 'ALLOW',
            policies: {
              p: {
                permissions: [{ any: true }],
                principals: [{ sourceIp: { addressPrefix: '10.0.0.0', prefixLen: 40 } }],
              },
            },
          },
        },
      ],
      [
        'shadowRules.policies["p"].permissions[0].urlPath.safeRegex',
        {
          type: 'rbac',
          shadowRules: {
            action: 'DENY',
            policies: {
              p: {
                permissions: [{ urlPath: { safeRegex: '(?<=a)b', ignoreCase: false } }],
                principals: [{ any: true }],
              },
            },
          },
        },
      ],
      [
        'rules.policies["p"].permissions[0].andRules',
        {
          type: 'rbac',
          rules: {
            action: 'ALLOW',
            policies: { p: { permissions: [{ andRules: [] }], principals: [{ any: true }] } },
          },
        },
      ],
      [
        'rules.policies["p"].permissions[0].metadata',
        {
          type: 'rbac',
          rules: {
            action: 'ALLOW',
            policies: { p: { permissions: [{ metadata: {} }], principals: [{ any: true }] } },
          },
        },
      ],
      [
        'rules.policies["p"].permissions[0].destinationPortRange',
        {
          type: 'rbac',
          rules: {
            action: 'ALLOW',
            policies: {
              p: {
                permissions: [{ destinationPortRange: { start: 9, end: 9 } }],
                principals: [{ any: true }],
              },
            },
          },
        },
      ],
    ];
    for (const [field, config] of bad) {
      it(`names ${field}`, () => {
        let error: unknown;
        try {
          rbacFilter.configure(config, env);
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message.startsWith(`authz: ${field} `)).toBe(true);
      });
    }
  });
});
