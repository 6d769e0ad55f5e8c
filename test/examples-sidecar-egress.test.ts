// examples/sidecar-egress: mesh.fetch with retries, outlier detection and a breaker, for real.
import { expect, it } from 'vitest';
import { run } from '../examples/sidecar-egress/main.ts';

it('examples/sidecar-egress: retries hide the flaky instance, the breaker sheds overflow', async () => {
  const lines = await run();
  expect(lines[0]).toMatch(/→ (200 ){7}200 /);
  expect(lines[1]).toMatch(/upstream_rq_retry [1-9]/);
  expect(lines[1]).toMatch(/outlier_detection_ejections_active 1/);
  expect(lines[2]).toMatch(/→ 200 200 200 503\(overloaded\) 503\(overloaded\)/);
});
