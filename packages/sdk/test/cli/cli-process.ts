// The `meshlet` CLI as a real child process, run from the sources (see from-sources.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const HOOKS = fileURLToPath(new URL('./from-sources.ts', import.meta.url));

/** A running `meshlet` process, with everything it wrote so far. */
export class Meshlet {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly #waiters: { regex: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];

  constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, ['--import', HOOKS, MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.#check();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.#check();
    });
  }

  /** Resolves with the first match of `regex` in stderr (logs), now or once it is written. */
  async logged(regex: RegExp): Promise<RegExpExecArray> {
    const exited = once(this.child, 'exit').then(() => {
      throw new Error(`meshlet exited before logging ${regex}:\n${this.stderr}${this.stdout}`);
    });
    const found = new Promise<RegExpExecArray>((resolve) => {
      this.#waiters.push({ regex, resolve });
      this.#check();
    });
    return Promise.race([found, exited]);
  }

  /** Resolves with the exit code once the process exits. */
  async exited(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const [code] = (await once(this.child, 'exit')) as [number | null];
    return code;
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited();
  }

  #check(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i];
      const m = waiter?.regex.exec(this.stderr);
      if (waiter !== undefined && m !== null && m !== undefined) {
        this.#waiters.splice(i, 1);
        waiter.resolve(m);
      }
    }
  }
}

/** Runs `meshlet args` to the end. */
export async function runMeshlet(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const m = new Meshlet(args);
  // 'close': the process exited and its stdout and stderr are read to the end.
  const [code] = (await once(m.child, 'close')) as [number | null];
  return { code, stdout: m.stdout, stderr: m.stderr };
}

/** Starts `meshlet run/demo ...` and waits until its workers serve; returns the process and its addresses. */
export async function serving(
  args: readonly string[],
  listener: string,
): Promise<{
  meshlet: Meshlet;
  url: string;
  adminUrl: string;
}> {
  const meshlet = new Meshlet(args);
  const [, url = ''] = await meshlet.logged(new RegExp(`listener ${listener} on (http://\\S+)`));
  const [, adminUrl = ''] = await meshlet.logged(/admin on (http:\/\/\S+)/);
  await meshlet.logged(/ready: /);
  return { meshlet, url, adminUrl };
}
