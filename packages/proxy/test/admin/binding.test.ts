// The admin server can drain the proxy and shows its config: by default nothing but loopback
// reaches it. Traffic stays on this machine: the non-loopback address is this machine's own.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type * as model from '@meshlet/xds';
import { createAdminServer } from '../../src/index.js';
import { adminScope } from './scope.js';

const { start, cleanups } = adminScope();

/** This machine's first non-loopback IPv4 address, if it has one. */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

const external = externalAddress();
if (external === undefined) {
  console.warn(
    '!!! admin binding test: this machine has no non-loopback IPv4 interface; the "refused on a non-loopback address" case is SKIPPED !!!',
  );
}

/** `connected`, or the error code of connecting to `host:port`. */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? 'error');
    });
  });
}

describe('admin server binding', () => {
  it('binds 127.0.0.1 by default', async () => {
    const { admin } = await start();
    expect(admin.address()).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
  });

  it.skipIf(external === undefined)(
    'is not reachable on the machine’s non-loopback address by default',
    async () => {
      const { admin } = await start();
      const { port } = admin.address() as net.AddressInfo;
      expect(await connectOutcome('127.0.0.1', port)).toBe('connected');
      expect(await connectOutcome(external ?? '', port)).toBe('ECONNREFUSED');
    },
  );

  it('binds the configured address (0.0.0.0), or the bootstrap’s admin.address', async () => {
    const { proxy } = await start();
    const any = createAdminServer({ proxy, port: 0, address: '0.0.0.0', logSink: () => undefined });
    cleanups.push(() => any.close());
    await any.start();
    expect(any.address()).toMatchObject({ address: '0.0.0.0' });

    const bootstrap: model.Bootstrap = {
      node: { id: 'n', cluster: 'c', metadata: {}, userAgentName: 'meshlet' },
      admin: { address: { socketAddress: { address: '127.0.0.2', port: 0, protocol: 'TCP' } } },
      staticResources: { listeners: [], clusters: [] },
    };
    const fromBootstrap = createAdminServer({ proxy, bootstrap, logSink: () => undefined });
    cleanups.push(() => fromBootstrap.close());
    await fromBootstrap.start();
    expect(fromBootstrap.address()).toMatchObject({ address: '127.0.0.2' });
    // An explicit address wins over the bootstrap's.
    const explicit = createAdminServer({ proxy, bootstrap, address: '127.0.0.1', logSink: () => undefined });
    cleanups.push(() => explicit.close());
    await explicit.start();
    expect(explicit.address()).toMatchObject({ address: '127.0.0.1' });
  });

  it('binds the bootstrap’s admin.address pipe (a Unix socket path)', async () => {
    const { proxy } = await start();
    const dir = mkdtempSync(join(os.tmpdir(), 'meshlet-admin-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    const path = join(dir, 'admin.sock');
    const bootstrap: model.Bootstrap = {
      node: { id: 'n', cluster: 'c', metadata: {}, userAgentName: 'meshlet' },
      admin: { address: { pipe: { path } } },
      staticResources: { listeners: [], clusters: [] },
    };
    const admin = createAdminServer({ proxy, bootstrap, logSink: () => undefined });
    cleanups.push(() => admin.close());
    expect(await admin.start()).toBe(path);
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get({ socketPath: path, path: '/ready' }, (res) => {
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            resolve(text);
          });
        })
        .on('error', reject);
    });
    expect(body).toBe('LIVE\n');
  });
});
