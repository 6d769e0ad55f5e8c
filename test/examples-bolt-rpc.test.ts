// The bolt-rpc example (examples/bolt-rpc): a sofa-bolt-node client through meshlet's rpc_proxy
// (protocol bolt, from an Envoy bootstrap) to sofa-bolt-node servers.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExample, tour, type Example } from '../examples/bolt-rpc/main.ts';

let example: Example;
beforeAll(async () => {
  example = await startExample(0);
});
afterAll(async () => {
  await example.close();
});

it('examples/bolt-rpc: routes by service, balances users, replies to unknown services and heartbeats', async () => {
  const lines = await tour(example.port, example.mesh);
  expect(lines[0]).toMatch(/getUser\(1\) +→ users-[ab]: Users\.getUser\(1\)$/);
  expect(lines[1]).toMatch(/getUser\(2\) +→ users-[ab]: Users\.getUser\(2\)$/);
  // Round robin: the two calls went to different instances.
  expect(
    new Set([/users-([ab])/.exec(lines[0] ?? '')?.[1], /users-([ab])/.exec(lines[1] ?? '')?.[1]]),
  ).toEqual(new Set(['a', 'b']));
  expect(lines[2]).toMatch(/listOrders\(1\) +→ orders: Orders\.listOrders\(1\)$/);
  expect(lines[3]).toMatch(/charge\(9\) +→ Bolt error reply: /);
  expect(lines[4]).toMatch(/→ users-a 25, users-b 25$/);
  expect(lines[5]).toMatch(/→ heartbeat_ack \(from meshlet\)$/);
  expect(lines[6]).toMatch(/→ request 54, response_success 53, response_error 1$/);
});
