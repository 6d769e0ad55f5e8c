// The sidecar-egress example (examples/sidecar-egress): createMesh + mesh.fetch to a cluster with
// one healthy and one broken instance; retries save every request, outlier detection ejects the
// broken instance, and the stats say so.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExample, tour, type Example } from '../examples/sidecar-egress/main.ts';

let example: Example;
beforeAll(async () => {
  example = await startExample();
});
afterAll(async () => {
  await example.close();
});

it('examples/sidecar-egress: retries save the requests the broken instance fails, then it is ejected', async () => {
  const lines = await tour(example.mesh);
  const calls = lines.slice(0, 10);
  expect(calls.every((l) => l.includes('→ 200 from catalog-a'))).toBe(true);
  const retried = calls.filter((l) => l.includes('retry'));
  // catalog-b fails 3 times in a row (consecutive_5xx: 3), each saved by a retry, then it is ejected.
  expect(retried).toHaveLength(3);
  // After the third failure (the ejection), every call goes to catalog-a on the first try.
  const lastRetried = calls.lastIndexOf(retried[2] as string);
  expect(calls.slice(lastRetried + 1).every((l) => l.endsWith('first try'))).toBe(true);
  expect(lines[10]).toBe(
    'catalog stats: 13 upstream requests, 3 retries, 1 ejection (catalog-b), 1 host ejected now, 0 refused by the breaker',
  );
});
