// mesh.close() drains: a request in flight finishes, later ones are refused; update() applies a
// new config version while a request in flight keeps its own.
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createMesh } from '../src/index.js';
import { envoyBootstrap, envoyCluster, mesh, upstream } from './helpers.js';

function holding(): {
  held: ServerResponse[];
  arrived: Promise<void>;
  handler: (req: { resume(): void }, res: ServerResponse) => void;
} {
  const held: ServerResponse[] = [];
  let signal: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (signal = resolve));
  return {
    held,
    arrived,
    handler: (req, res) => {
      req.resume();
      held.push(res);
      signal();
    },
  };
}

describe('mesh lifecycle', () => {
  it('close() lets the request in flight finish and refuses new ones', async () => {
    const h = holding();
    const slow = await upstream('slow', h.handler);
    const m = await createMesh({ config: envoyBootstrap([], [envoyCluster('slow', [slow.port])]) });
    const pending = m.fetch('http://slow/');
    await h.arrived;
    const closing = m.close();
    await expect(m.fetch('http://slow/')).rejects.toThrow();
    for (const res of h.held) res.end('finished');
    const res = await pending;
    expect(await res.text()).toBe('finished');
    await closing;
  });

  it('update() moves new requests to the new version; the one in flight keeps its own', async () => {
    const h = holding();
    const a = await upstream('a', h.handler);
    const b = await upstream('b');
    const config = (port: number): object => envoyBootstrap([], [envoyCluster('svc', [port])]);
    const m = await mesh({ config: config(a.port) });
    const pending = m.fetch('http://svc/');
    await h.arrived;
    await m.update(config(b.port));
    expect(await (await m.fetch('http://svc/')).text()).toBe('b');
    for (const res of h.held) res.end('a');
    expect(await (await pending).text()).toBe('a');
  });
});
