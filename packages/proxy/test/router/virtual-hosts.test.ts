import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRouteTable } from '../../src/router/index.js';
import { action, input, route, routeConfig, vhost } from './helpers.js';

/** A table where each virtual host routes to a cluster named after it. */
function table(hosts: Record<string, string[]>) {
  return compileRouteTable(
    routeConfig({
      virtualHosts: Object.entries(hosts).map(([name, domains]) =>
        vhost({ name, domains, routes: [route({ route: action({ cluster: name }) })] }),
      ),
    }),
  );
}

describe('virtual host selection', () => {
  const t = table({
    exact: ['api.example.com'],
    suffix: ['*.example.com'],
    longSuffix: ['*.eu.example.com'],
    dashSuffix: ['*-admin.example.com'],
    prefix: ['api.*'],
    longPrefix: ['api.internal.*'],
    any: ['*'],
  });

  it.each([
    ['api.example.com', 'exact'],
    ['API.Example.COM', 'exact'],
    ['www.example.com', 'suffix'],
    ['a.b.example.com', 'suffix'],
    ['www.eu.example.com', 'longSuffix'],
    ['ops-admin.example.com', 'dashSuffix'],
    ['api.example.org', 'prefix'],
    ['api.internal.corp', 'longPrefix'],
    ['other.org', 'any'],
    // A wildcard stands for at least one character.
    ['.example.com', 'any'],
    ['api.', 'any'],
    ['', 'any'],
  ])('%s → %s', (authority, expected) => {
    expect(t.virtualHostName(authority)).toBe(expected);
    expect(t.match(input({ authority }))?.virtualHostName).toBe(expected);
  });

  it('tries the authority with its port first, then without it, then *', () => {
    const p = table({
      withPort: ['reviews:9080'],
      bare: ['reviews', 'ratings.*'],
      suffixPort: ['*.svc:9080'],
      any: ['*'],
    });
    expect(p.virtualHostName('reviews:9080')).toBe('withPort');
    expect(p.virtualHostName('reviews:8080')).toBe('bare');
    expect(p.virtualHostName('reviews')).toBe('bare');
    expect(p.virtualHostName('x.svc:9080')).toBe('suffixPort');
    // A prefix wildcard takes the authority with its port still on.
    expect(p.virtualHostName('ratings.default:80')).toBe('bare');
    expect(p.virtualHostName('ratings:80')).toBe('any');
    expect(p.virtualHostName('x.svc:80')).toBe('any');
    // IPv6 literals: the port is only after the bracket.
    const v6 = table({ v6: ['[::1]'], any: ['*'] });
    expect(v6.virtualHostName('[::1]:8080')).toBe('v6');
    expect(v6.virtualHostName('[::1]')).toBe('v6');
  });

  it('returns no route when no domain matches and there is no *', () => {
    const n = table({ exact: ['a.com'] });
    expect(n.match(input({ authority: 'b.com' }))).toBeNull();
    expect(n.match(input({ authority: 'a.com' }))?.name).toBe('');
  });

  it('serves every authority from a lone * virtual host', () => {
    const only = table({ any: ['*'] });
    expect(only.virtualHostName('whatever:1234')).toBe('any');
  });

  // Property: whatever the set of domains, the chosen one is the most specific that matches.
  const label = fc.stringMatching(/^[a-c]{1,2}$/);
  const hostname = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
  const domain = fc.oneof(
    hostname,
    hostname.map((h) => `*.${h}`),
    hostname.map((h) => `*${h}`),
    hostname.map((h) => `${h}.*`),
    hostname.map((h) => `${h}*`),
    fc.constant('*'),
  );

  /** The reference: rank every matching domain by Envoy's order and pick the best. */
  function best(domains: readonly string[], host: string): string | null {
    let bestRank = -1;
    let bestLen = -1;
    let chosen: string | null = null;
    for (const d of domains) {
      let rank = -1;
      let len = 0;
      if (d === '*') rank = 0;
      else if (d.startsWith('*')) {
        len = d.length - 1;
        if (host.length > len && host.endsWith(d.slice(1))) rank = 2;
      } else if (d.endsWith('*')) {
        len = d.length - 1;
        if (host.length > len && host.startsWith(d.slice(0, -1))) rank = 1;
      } else if (d === host) rank = 3;
      if (rank > bestRank || (rank === bestRank && rank > 0 && len > bestLen)) {
        bestRank = rank;
        bestLen = len;
        chosen = rank < 0 ? chosen : d;
      }
    }
    return bestRank < 0 ? null : chosen;
  }

  it('picks exact > longest *.suffix > longest prefix.* > * (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(domain, { minLength: 1, maxLength: 12 }), hostname, (domains, host) => {
        // One virtual host per domain, named after it.
        const t2 = compileRouteTable(
          routeConfig({ virtualHosts: domains.map((d) => vhost({ name: d, domains: [d] })) }),
        );
        expect(t2.virtualHostName(host)).toBe(best(domains, host));
        expect(t2.virtualHostName(host.toUpperCase())).toBe(best(domains, host));
      }),
      { numRuns: 500 },
    );
  });
});
