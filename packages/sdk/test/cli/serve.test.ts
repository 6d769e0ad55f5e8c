// `meshlet run` from a static bootstrap in front of a real upstream, `--workers 2`, a lossless
// restart under load, and `meshlet demo --smoke`: each a real `meshlet` process (and its workers).
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { get, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMeshlet, serving } from './cli-process.ts';
import { gatewayBootstrap, tempDir, writeFile } from './fixtures.ts';

let upstream: Server;
let config: string;
const dir = tempDir();

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`upstream saw ${req.url}\n`);
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  config = writeFile(dir, 'gateway.yaml', gatewayBootstrap((upstream.address() as AddressInfo).port));
});
afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

/** One GET on a new connection: the cluster's primary hands each connection to a worker in turn. */
async function getOnNewConnection(url: string): Promise<{ status: number; servedBy: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, servedBy: String(res.headers['x-served-by']) });
      });
    }).on('error', reject);
  });
}

// Workers start from the sources (type-stripped on the fly), two cores shared: give them time.
const SLOW = 30_000;

describe('meshlet run', () => {
  it(
    'serves a static bootstrap in front of a real upstream, with the admin; SIGTERM drains and exits 0',
    async () => {
      const { meshlet, url, adminUrl } = await serving(
        ['run', '-c', config, '--drain-time-s', '1'],
        'ingress',
      );
      const res = await fetch(`${url}/hello`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('upstream saw /hello\n');
      // Served by the worker, not the primary.
      const servedBy = Number(res.headers.get('x-served-by'));
      expect(servedBy).toBeGreaterThan(0);
      expect(servedBy).not.toBe(meshlet.child.pid);
      const ready = await fetch(`${adminUrl}/ready`);
      expect(await ready.text()).toBe('LIVE\n');
      expect(await meshlet.stop()).toBe(0);
      expect(meshlet.stderr).toMatch(/draining/);
      expect(meshlet.stderr).toMatch(/stopped/);
    },
    SLOW,
  );

  it(
    'refuses a bad bootstrap before any worker serves: every error once, exit 1',
    async () => {
      const bad = writeFile(dir, 'bad.yaml', gatewayBootstrap(1, 'nowhere'));
      const { code, stderr } = await runMeshlet(['run', '-c', bad]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/error: .*route\.cluster: .*"nowhere"/);
      expect(stderr.match(/"nowhere"/g)).toHaveLength(1);
      expect(stderr).not.toMatch(/worker/);
    },
    SLOW,
  );

  it(
    'SIGHUP after an invalid edit: the old workers keep serving and every error is logged',
    async () => {
      const edited = writeFile(dir, 'edited.yaml', readFileSync(config, 'utf8'));
      const { meshlet, url } = await serving(['run', '-c', edited, '--drain-time-s', '1'], 'ingress');
      try {
        const before = await getOnNewConnection(`${url}/`);
        writeFile(dir, 'edited.yaml', gatewayBootstrap(1, 'nowhere'));
        meshlet.child.kill('SIGHUP');
        const [line = ''] = await meshlet.logged(/reload failed.*/);
        expect(line).toMatch(/keep serving: .*route\.cluster: .*"nowhere"/);
        const after = await getOnNewConnection(`${url}/`);
        expect(after).toEqual({ status: 200, servedBy: before.servedBy });
      } finally {
        await meshlet.stop();
      }
    },
    SLOW,
  );

  it(
    '--workers 2: both workers serve the same port',
    async () => {
      const { meshlet, url } = await serving(
        ['run', '-c', config, '--workers', '2', '--drain-time-s', '1'],
        'ingress',
      );
      try {
        expect(meshlet.stderr).toMatch(/ready: 2 workers/);
        const seen = new Set<string>();
        for (let i = 0; i < 40 && seen.size < 2; i++) {
          const res = await getOnNewConnection(`${url}/`);
          expect(res.status).toBe(200);
          seen.add(res.servedBy);
        }
        expect(seen.size).toBe(2);
      } finally {
        await meshlet.stop();
      }
    },
    SLOW,
  );
});

describe('lossless restart', () => {
  it('SIGHUP via `meshlet reload`: new workers take over under load, no request fails', async () => {
    const pidFile = join(dir, 'meshlet.pid');
    const { meshlet, url } = await serving(
      ['run', '-c', config, '--workers', '2', '--pid-file', pidFile, '--drain-time-s', '5'],
      'ingress',
    );
    try {
      expect(Number(readFileSync(pidFile, 'utf8'))).toBe(meshlet.child.pid);
      const before = new Set<string>();
      const after = new Set<string>();
      let ok = 0;
      const failures: string[] = [];
      let phase: 'before' | 'reloading' | 'after' = 'before';
      let afterCount = 0;
      let reloaded!: () => void;
      const reloadedOnce = new Promise<void>((resolve) => (reloaded = resolve));
      // Keep-alive connections (fetch is undici), 16 at a time, until well after the old workers left.
      const client = async (): Promise<void> => {
        while (phase !== 'after' || afterCount < 300) {
          try {
            const res = await fetch(`${url}/load`);
            const body = await res.text();
            if (res.status !== 200 || body !== 'upstream saw /load\n') failures.push(`${res.status} ${body}`);
            else ok++;
            const pid = res.headers.get('x-served-by') ?? '';
            if (phase === 'before') before.add(pid);
            if (phase === 'after') {
              after.add(pid);
              afterCount++;
            }
          } catch (error) {
            failures.push(`${String(error)} ${String((error as { cause?: unknown }).cause)}`);
          }
          if (phase === 'before' && ok >= 300) {
            phase = 'reloading';
            void runMeshlet(['reload', '--pid-file', pidFile]).then((r) => {
              expect(r.code).toBe(0);
            });
            void meshlet.logged(/reload done/).then(() => {
              phase = 'after';
              reloaded();
            });
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      await reloadedOnce;
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(600);
      const [, newPids = ''] = /reload: workers ([\d, ]+) took over/.exec(meshlet.stderr) ?? [];
      const fresh = new Set(newPids.split(', '));
      expect(fresh.size).toBe(2);
      // Before: only old workers; after the old ones exited: only the new ones.
      for (const pid of before) expect(fresh.has(pid)).toBe(false);
      for (const pid of after) expect(fresh.has(pid)).toBe(true);
    } finally {
      await meshlet.stop();
    }
  }, 60_000);
});

describe('meshlet demo', () => {
  it(
    '--smoke: the tour through the gateway worker, then exit 0',
    async () => {
      const { code, stdout } = await runMeshlet(['demo', '--smoke']);
      expect(code).toBe(0);
      expect(stdout).toMatch(/meshlet demo: a gateway on http:\/\/127\.0\.0\.1:\d+/);
      expect(stdout).toMatch(/welcome page .*→ 200 meshlet demo gateway/);
      expect(stdout).toMatch(/no API key .*→ 401 missing or unknown x-api-key/);
      expect(stdout).toMatch(/canary by header .*→ 200 .*"version":"v2"/);
      expect(stdout).toMatch(/×429/);
      expect(stdout).toMatch(/admin \/stats\/prometheus .*catalog 2xx: \d+/);
    },
    SLOW,
  );
});
