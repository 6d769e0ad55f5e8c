// The private-protocol example (examples/private-protocol): a protocol from defineProtocol, named
// by an rpc_proxy in an Envoy bootstrap, through a real proxy to real loopback services.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, tour, type Demo } from '../examples/private-protocol/main.ts';

let demo: Demo;
beforeAll(async () => {
  demo = await startDemo(0);
});
afterAll(async () => {
  await demo.close();
});

it('examples/private-protocol: routes acme calls by service and method, replies not-found, rate-limits', async () => {
  const lines = await tour(demo.port);
  expect(lines).toEqual([
    expect.stringMatching(/^users\.getUser\(42\) +→ status 0 users\.getUser\(42\)$/),
    expect.stringMatching(/^orders\.listOrders\(42\) +→ status 0 orders\.listOrders\(42\)$/),
    expect.stringMatching(/^billing\.charge\(9\) +→ status 2 no route for billing\/charge$/),
    expect.stringMatching(/→ status 0 users\.getUser\(43\)$/),
    expect.stringMatching(/→ status 0 users\.getUser\(44\)$/),
    expect.stringMatching(/^users\.getUser\(45\) +→ status 3 /),
  ]);
});
