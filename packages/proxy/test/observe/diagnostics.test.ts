import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CircuitBreaker } from '@meshlet/breaker';
import type { HttpContext, ObservedChain } from '../../src/index.js';
import { cluster, gateway, origin, route, routeAction } from '../e2e/helpers.js';
import { e2eScope } from '../e2e/scope.js';

const { start, upstream } = e2eScope();

const subscriptions: [string, (message: unknown, name: string | symbol) => void][] = [];
afterEach(() => {
  for (const [name, fn] of subscriptions.splice(0)) unsubscribe(name, fn);
});

/** Every message published on `name` from now on. */
function listen(name: string): unknown[] {
  const seen: unknown[] = [];
  const fn = (message: unknown): void => {
    seen.push(message);
  };
  subscribe(name, fn);
  subscriptions.push([name, fn]);
  return seen;
}

describe('diagnostics_channel', () => {
  it('publishes requests, connections, config updates and drained listeners of a real proxy', async () => {
    const starts = listen('meshlet:proxy:request-start');
    const ends = listen('meshlet:proxy:request-end');
    const opens = listen('meshlet:proxy:connection-open');
    const updates = listen('meshlet:proxy:config-update');
    const drained = listen('meshlet:proxy:listener-drained');
    const a = await upstream('a');
    const config = gateway({
      routes: [route('r', { route: routeAction('a') })],
      clusters: [cluster('a', [a.port])],
    });
    const proxy = await start(config);
    const res = await request(`${origin(proxy)}/diag`);
    await res.body.text();
    expect(starts).toHaveLength(1);
    expect(ends).toHaveLength(1);
    expect(opens).toHaveLength(1);
    const start0 = starts[0] as { ctx: HttpContext; chain: ObservedChain };
    expect(start0.ctx.request.path).toBe('/diag');
    expect(start0.chain).toMatchObject({ listenerName: 'ingress', kind: 'http' });
    const end0 = ends[0] as { ctx: HttpContext };
    expect(end0.ctx.response?.status).toBe(200);
    expect(end0.ctx.info.upstreamCluster).toBe('a');
    expect(updates).toEqual([{ proxy, version: 1 }]);
    // Removing the listener drains it.
    await proxy.update({ ...config, listeners: new Map() });
    expect(updates.at(-1)).toEqual({ proxy, version: 2 });
    await proxy.drain(0);
    expect(drained).toContainEqual({ proxy, name: 'ingress' });
  });

  it('publishes circuit breaker state changes', () => {
    const changes = listen('meshlet:breaker:state-change');
    const breaker = new CircuitBreaker({ name: 'payments' });
    breaker.forceOpen();
    breaker.reset();
    expect(changes).toEqual([
      { breaker, name: 'payments', from: 'closed', to: 'open' },
      { breaker, name: 'payments', from: 'open', to: 'closed' },
    ]);
  });
});
