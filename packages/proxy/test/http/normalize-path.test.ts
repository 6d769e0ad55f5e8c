import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizedPath } from '../../src/http/connection-manager.js';

/** The definition: what WHATWG URL parsing makes of the path (merge_slashes first). */
function reference(path: string, mergeSlashes: boolean): string {
  const q = path.indexOf('?');
  let p = q === -1 ? path : path.slice(0, q);
  if (mergeSlashes) p = p.replace(/\/{2,}/g, '/');
  return new URL(`http://normalize.invalid${p}`).pathname + (q === -1 ? '' : path.slice(q));
}

describe('normalizedPath (normalize_path)', () => {
  const piece = fc.constantFrom(
    '/',
    '.',
    '..',
    '/./',
    '/../',
    '//',
    'a',
    'b.c',
    '%2e',
    '%2E',
    '\\',
    ' ',
    '~',
    ':',
    '@',
    '?x=/../',
    '#',
    'é',
    '%',
  );
  const path = fc
    .array(fc.oneof(piece, fc.string({ maxLength: 4 })), { maxLength: 8 })
    .map((parts) => `/${parts.join('')}`);

  it('equals WHATWG URL parsing, with or without merge_slashes (the plain-path fast path included)', () => {
    fc.assert(
      fc.property(path, fc.boolean(), (p, mergeSlashes) => {
        expect(normalizedPath(p, { normalizePath: true, mergeSlashes })).toBe(reference(p, mergeSlashes));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves plain paths as they are and resolves dot segments', () => {
    const config = { normalizePath: true, mergeSlashes: false };
    expect(normalizedPath('/api/v1/users/42?x=1', config)).toBe('/api/v1/users/42?x=1');
    expect(normalizedPath('/a/./b/../c', config)).toBe('/a/c');
    expect(normalizedPath('/a/%2e%2E/c', config)).toBe('/c');
    expect(normalizedPath('/a b', config)).toBe('/a%20b');
    // A leading `//` is a path, not an authority (it used to lose `evil`, and `//` threw).
    expect(normalizedPath('//evil/../x', config)).toBe('//x');
    expect(normalizedPath('//', config)).toBe('//');
  });
});
