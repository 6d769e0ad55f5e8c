// The xds example (examples/xds): a mesh from createMesh({ xds }) following @meshlet/xds's test
// control plane over ADS; the route's weights change live while traffic flows.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExample, tour, type Example } from '../examples/xds/main.ts';

let example: Example;
beforeAll(async () => {
  example = await startExample();
});
afterAll(async () => {
  await example.close();
});

it('examples/xds: traffic follows route weights 100/0 → 50/50 → 0/100 set by the control plane', async () => {
  const lines = await tour(example, 40);
  const counts = lines.slice(0, 3).map((l) => {
    const m = /→ +(\d+) requests: blue (\d+), green (\d+)$/.exec(l);
    expect(m).not.toBeNull();
    const [total, blue, green] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
    expect(total).toBeGreaterThanOrEqual(40);
    expect(blue + green).toBe(total);
    return { blue, green };
  });
  expect(lines[0]).toMatch(/^v1 /);
  expect(counts[0]?.green).toBe(0);
  // 50/50: both get traffic (all 40+ on one side has a chance of 2^-39).
  expect(counts[1]?.blue).toBeGreaterThan(0);
  expect(counts[1]?.green).toBeGreaterThan(0);
  expect(counts[2]?.blue).toBe(0);
  expect(lines[3]).toBe('control plane: node shop-client-1 ACKed route versions 1, 2, 3');
});
