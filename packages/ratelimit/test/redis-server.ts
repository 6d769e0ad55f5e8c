// Starts a real redis-server for the tests, on a free loopback port, with no persistence.
//
// Locally, a machine without redis-server skips the Redis tests with a loud message. CI sets
// MESHLET_REQUIRE_REDIS=1 (.ci/run), and then a missing redis-server fails the run.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

const REQUIRED = process.env.MESHLET_REQUIRE_REDIS === '1';

/** Whether redis-server can run here; throws when it cannot but must (CI). */
export function redisAvailable(what = 'the Redis tests'): boolean {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = 'redis-server is not installed (apt-get install -y redis-server)';
  if (REQUIRED) throw new Error(`MESHLET_REQUIRE_REDIS=1 but ${why}`);
  console.warn(`\n!!!!!!!!\n!!! SKIPPING ${what} of @meshlet/ratelimit: ${why}\n!!!!!!!!\n`);
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** A running redis-server. */
export class RedisServer {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.#child = child;
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        resolve();
      }),
    );
  }

  /** Starts a server and resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const ready = await new Promise<boolean>((resolve) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('Ready to accept connections')) resolve(true);
        });
        child.once('exit', () => {
          resolve(false);
        });
      });
      if (ready) return new RedisServer(port, child);
      // Another process took the port between our probe and redis's bind: try another.
      if (attempt >= 3) throw new Error('redis-server did not start');
    }
  }

  /** Stops the server and waits for it to exit. */
  async stop(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.#exited;
  }
}
