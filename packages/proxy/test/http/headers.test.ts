import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isInternalAddress,
  isInternalRequest,
  forwardableRequestHeaders,
  isHopByHop,
  stripHopByHop,
  trustedClientAddress,
} from '../../src/http/headers.js';
import { withoutHopByHop } from '../../src/router-filter/headers.js';
import { buildLocalReply, httpToGrpcStatus } from '../../src/http/local-reply.js';
import type { HeaderMap } from '../../src/types.js';

describe('stripHopByHop', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
  const special = fc.constantFrom(
    'connection',
    'keep-alive',
    'proxy-connection',
    'transfer-encoding',
    'upgrade',
    'te',
    'x-a',
    'x-b',
    'host',
  );

  it('leaves no hop-by-hop header nor any header Connection names, and keeps the rest', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(name, special), fc.string({ maxLength: 20 })),
        fc.array(fc.oneof(name, special), { maxLength: 5 }),
        (input, listed) => {
          const headers: HeaderMap = { ...input };
          if (listed.length > 0) headers.connection = listed.join(', ');
          const before = { ...headers };
          stripHopByHop(headers, false);
          for (const key of Object.keys(headers)) {
            if (key === 'te') expect(headers.te).toBe('trailers');
            else expect(isHopByHop(key)).toBe(false);
          }
          for (const n of listed) if (n !== 'host' && n !== 'te') expect(headers[n]).toBeUndefined();
          // Names the Connection header lists (the generated one, or one the dictionary brought).
          const named = String(before.connection ?? '')
            .split(',')
            .map((n) => n.trim().toLowerCase());
          for (const [k, v] of Object.entries(before)) {
            if (!isHopByHop(k) && !named.includes(k)) expect(headers[k]).toBe(v);
          }
        },
      ),
    );
  });

  it('keeps te: trailers and, for an allowed upgrade, the upgrade header', () => {
    const headers: HeaderMap = {
      te: 'trailers, deflate',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'x-a': '1',
    };
    stripHopByHop(headers, true);
    expect(headers).toEqual({ te: 'trailers', upgrade: 'websocket', 'x-a': '1' });
    const plain: HeaderMap = { te: 'gzip', upgrade: 'websocket', connection: 'upgrade' };
    stripHopByHop(plain, false);
    expect(plain).toEqual({});
  });
});

describe('forwardableRequestHeaders', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
  const special = fc.constantFrom(
    'connection',
    'keep-alive',
    'proxy-connection',
    'transfer-encoding',
    'http2-settings',
    'upgrade',
    'te',
    'x-a',
    'host',
  );
  const value = fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.constantFrom('trailers', 'trailers, deflate', 'gzip'),
    fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 3 }),
  );

  it('equals deleting host then stripHopByHop, and never changes its input', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.oneof(name, special), value),
        fc.array(fc.oneof(name, special, fc.constantFrom('Upgrade', ' TE ', '')), { maxLength: 5 }),
        fc.boolean(),
        (input, listed, keepUpgrade) => {
          const headers: HeaderMap = { ...input };
          if (listed.length > 0) headers.connection = listed.join(',');
          const before = structuredClone(headers);
          const expected: HeaderMap = { ...headers };
          delete expected.host;
          stripHopByHop(expected, keepUpgrade);
          expect(forwardableRequestHeaders(headers, keepUpgrade)).toEqual(expected);
          expect(headers).toEqual(before);
        },
      ),
    );
  });
});

describe('withoutHopByHop (upstream response heads)', () => {
  it('drops the fixed list and what Connection names, but never content-length or content-type', () => {
    const upstream: HeaderMap = {
      'content-type': 'text/plain',
      'content-length': '13',
      connection: 'keep-alive, X-Private, content-length',
      'keep-alive': 'timeout=60',
      'x-private': 'secret',
      'transfer-encoding': 'chunked',
      upgrade: 'h2c',
      'proxy-connection': 'keep-alive',
      date: 'today',
    };
    expect(withoutHopByHop(upstream)).toEqual({
      'content-type': 'text/plain',
      'content-length': '13',
      date: 'today',
    });
    expect(upstream['x-private']).toBe('secret');
  });

  it('returns the map itself when it has nothing to drop', () => {
    const clean: HeaderMap = { 'content-type': 'text/plain', date: 'today' };
    expect(withoutHopByHop(clean)).toBe(clean);
  });
});

describe('trustedClientAddress (the examples of Envoy x-forwarded-for docs)', () => {
  const xff = '203.0.113.128, 203.0.113.10, 203.0.113.1';
  it('edge proxy, no trusted hops: the peer', () => {
    expect(trustedClientAddress(xff, '192.0.2.5', true, 0)).toBe('192.0.2.5');
  });
  it('internal proxy behind it: the last XFF address', () => {
    expect(trustedClientAddress(`${xff}, 192.0.2.5`, '10.0.0.1', false, 0)).toBe('192.0.2.5');
  });
  it('edge proxy with two trusted proxies in front', () => {
    expect(trustedClientAddress(xff, '192.0.2.5', true, 2)).toBe('203.0.113.10');
  });
  it('internal proxy behind that edge', () => {
    expect(trustedClientAddress(`${xff}, 192.0.2.5`, '10.0.0.1', false, 2)).toBe('203.0.113.10');
  });
  it('falls back to the peer when XFF is missing or too short', () => {
    expect(trustedClientAddress(undefined, '192.0.2.5', false, 0)).toBe('192.0.2.5');
    expect(trustedClientAddress('1.1.1.1', '192.0.2.5', true, 3)).toBe('192.0.2.5');
  });
});

describe('local replies', () => {
  it("maps HTTP statuses to gRPC statuses as Envoy's httpToGrpcStatus does", () => {
    expect([400, 401, 403, 404, 429, 502, 503, 504, 500, 418].map(httpToGrpcStatus)).toEqual([
      13, 16, 7, 12, 14, 14, 14, 14, 2, 2,
    ]);
  });

  it('answers gRPC requests trailers-only, keeping a grpc-status given by the caller', () => {
    const reply = buildLocalReply(429, 'rate limited 100%', { 'grpc-status': '8' }, true);
    expect(reply).toEqual({
      status: 200,
      headers: {
        'grpc-status': '8',
        'content-type': 'application/grpc',
        'grpc-message': 'rate limited 100%25',
      },
      body: null,
    });
  });

  it('answers others with a text body and its length', () => {
    expect(buildLocalReply(503, 'no healthy upstream', undefined, false)).toEqual({
      status: 503,
      headers: { 'content-type': 'text/plain', 'content-length': '19' },
      body: Buffer.from('no healthy upstream'),
    });
    expect(buildLocalReply(404, undefined, undefined, false).headers).toEqual({ 'content-length': '0' });
  });
});

describe('internal addresses and requests (Envoy header sanitizing)', () => {
  it('knows RFC 1918, RFC 4193 and loopback addresses, and nothing else', () => {
    for (const a of [
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '127.0.0.1',
      '::1',
      'fd00::1',
      'fc12:3::4',
    ])
      expect(isInternalAddress(a), a).toBe(true);
    for (const a of [
      '8.8.8.8',
      '172.32.0.1',
      '172.15.0.1',
      '192.169.0.1',
      '11.0.0.1',
      '2001:db8::1',
      'fe80::1',
      'fd',
      '',
    ])
      expect(isInternalAddress(a), a).toBe(false);
  });

  it('decides as Envoy: use_remote_address → no XFF and an internal peer; else one internal XFF entry', () => {
    expect(isInternalRequest(undefined, '127.0.0.1', true)).toBe(true);
    expect(isInternalRequest('10.0.0.1', '127.0.0.1', true)).toBe(false);
    expect(isInternalRequest(undefined, '203.0.113.9', true)).toBe(false);
    expect(isInternalRequest('10.0.0.1', '203.0.113.9', false)).toBe(true);
    expect(isInternalRequest('10.0.0.1, 10.0.0.2', '127.0.0.1', false)).toBe(false);
    expect(isInternalRequest(undefined, '127.0.0.1', false)).toBe(false);
    expect(isInternalRequest('203.0.113.9', '127.0.0.1', false)).toBe(false);
  });
});
