import { Client } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { httpProxyBootstrap, startMeshlet } from '../src/lib/meshlet.ts';
import { startUpstream, UPSTREAM_BODY } from '../src/lib/nginx.ts';
import { freePort, groupMembers, liveTargets, stopAll } from '../src/lib/process.ts';
import { findTool, inCi } from '../src/lib/tools.ts';

afterEach(async () => {
  await stopAll();
});

// A client of its own, closed after the request: the targets are stopped with no idle
// kept-alive connection open, as after a benchmark run.
async function get(port: number): Promise<{ status: number; body: string }> {
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    const res = await client.request({ method: 'GET', path: '/some/path' });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await client.close();
  }
}

// nginx is installed in CI (.ci/run): there this never skips.
const haveNginx = findTool('nginx') !== undefined;
if (!haveNginx && inCi()) throw new Error('nginx is not installed: .ci/run installs it');
describe.skipIf(!haveNginx)('the suite’s upstream and the meshlet CLI target', () => {
  it('nginx upstream answers the fixed body; meshlet run proxies to it; both stop completely', async () => {
    const upstreamPort = await freePort();
    const upstream = await startUpstream(upstreamPort, undefined);
    // nginx runs as a master and one worker, in one process group.
    expect(groupMembers(upstream.pid)).toHaveLength(2);
    expect(await get(upstreamPort)).toEqual({ status: 200, body: UPSTREAM_BODY });

    const port = await freePort();
    const meshlet = await startMeshlet({ bootstrap: httpProxyBootstrap(port, upstreamPort), port });
    // The CLI supervisor and its one worker.
    expect(groupMembers(meshlet.pid).length).toBeGreaterThanOrEqual(2);
    expect(await get(port)).toEqual({ status: 200, body: UPSTREAM_BODY });
    expect(meshlet.rssKiB()).toBeGreaterThan(0);

    await meshlet.stop();
    await upstream.stop();
    expect(groupMembers(meshlet.pid)).toEqual([]);
    expect(groupMembers(upstream.pid)).toEqual([]);
    expect(liveTargets()).toEqual([]);
  });
});
