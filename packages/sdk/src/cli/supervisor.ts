// Worker processes with node:cluster: the primary owns the listening sockets and hands
// connections to its workers, so that `--workers N` serve the same ports and a restart loses no
// request: new workers start and listen (the primary's socket stays open all along), then the old
// ones drain and exit.
import cluster, { type Worker } from 'node:cluster';
import { log, messageOf } from './log.js';

/** What a worker runs, sent to it in the environment. */
export type WorkerSpec =
  | { readonly kind: 'run'; readonly config: string }
  | {
      readonly kind: 'demo';
      readonly services: { readonly v1a: number; readonly v1b: number; readonly v2: number };
      readonly port: number;
      readonly adminPort: number;
    };

/** A worker's addresses, once it listens. */
export interface WorkerReady {
  readonly type: 'ready';
  readonly pid: number;
  /** `http://host:port` by listener name. */
  readonly listeners: Readonly<Record<string, string>>;
  readonly admin: string;
  /** The config file's warnings (`meshlet validate`'s). */
  readonly warnings: readonly string[];
}

interface WorkerFailed {
  readonly type: 'failed';
  readonly message: string;
}

/** A worker's refusal of its config file: every error, as `meshlet validate` words them. */
interface WorkerInvalid {
  readonly type: 'invalid';
  readonly errors: readonly string[];
}

/** The primary's order to a worker: drain for at most `ms`, then exit. */
export interface DrainOrder {
  readonly type: 'drain';
  readonly ms: number;
}

/** The environment variable that carries a worker's {@link WorkerSpec}. */
export const WORKER_ENV = 'MESHLET_CLI_WORKER';

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  readonly workers: number;
  readonly spec: WorkerSpec;
  /** How long an old worker may take to finish its requests. */
  readonly drainMs: number;
}

/** A worker whose process exited, or said it failed, before it listened. */
class WorkerStartError extends Error {}

/** A worker refused the config file: {@link InvalidConfig.errors} says why. */
export class InvalidConfig extends Error {
  readonly errors: readonly string[];

  constructor(errors: readonly string[]) {
    super(`invalid configuration: ${errors.join('; ')}`);
    this.errors = errors;
  }
}

/**
 * The primary of `meshlet run` and `meshlet demo`: starts a generation of workers, replaces it on
 * {@link Supervisor.reload} (SIGHUP), replaces a worker that dies, drains all on
 * {@link Supervisor.stop}.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  #current: Worker[] = [];
  #stopping = false;
  #reloading: Promise<void> = Promise.resolve();

  constructor(options: SupervisorOptions) {
    this.#options = options;
  }

  /** The pids of the workers serving now. */
  get pids(): number[] {
    return this.#current.map((w) => w.process.pid ?? 0);
  }

  /** Starts the first generation; resolves with the first worker's addresses. */
  async start(): Promise<WorkerReady> {
    const ready = await this.#generation(this.#options.workers);
    this.#current = ready.map(([w]) => w);
    for (const worker of this.#current) this.#watch(worker);
    const first = ready[0]?.[1];
    if (first === undefined) throw new Error('no worker started');
    return first;
  }

  /**
   * A lossless restart: a new generation starts and listens, then the old one drains. If the new
   * one cannot start (a bad config after an edit), the old one keeps serving. Reloads queue.
   */
  reload(): Promise<void> {
    this.#reloading = this.#reloading.then(async () => {
      if (this.#stopping) return;
      const old = this.#current;
      let ready: [Worker, WorkerReady][];
      try {
        ready = await this.#generation(this.#options.workers);
      } catch (error) {
        log(`reload failed, the workers ${pidsOf(old)} keep serving: ${messageOf(error)}`);
        return;
      }
      this.#current = ready.map(([w]) => w);
      for (const worker of this.#current) this.#watch(worker);
      log(`reload: workers ${pidsOf(this.#current)} took over; ${pidsOf(old)} drain`);
      await Promise.all(old.map(async (w) => this.#retire(w)));
      log(`reload done: ${pidsOf(old)} exited`);
    });
    return this.#reloading;
  }

  /** Drains every worker and waits for them to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#reloading;
    await Promise.all(this.#current.map(async (w) => this.#retire(w)));
    this.#current = [];
  }

  async #generation(n: number): Promise<[Worker, WorkerReady][]> {
    const starting: Worker[] = [];
    try {
      return await Promise.all(
        Array.from({ length: n }, async () => {
          const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(this.#options.spec) });
          starting.push(worker);
          return [worker, await readyOf(worker)] as [Worker, WorkerReady];
        }),
      );
    } catch (error) {
      for (const w of starting) if (!w.isDead()) w.process.kill('SIGKILL');
      throw error;
    }
  }

  /** A worker of the current generation that dies is replaced. */
  #watch(worker: Worker): void {
    worker.once('exit', (code, signal) => {
      const i = this.#current.indexOf(worker);
      if (i < 0 || this.#stopping) return;
      log(`worker ${worker.process.pid} exited (${exitReason(code, signal)}); starting another`);
      this.#current.splice(i, 1);
      this.#generation(1).then(
        ([started]) => {
          if (started === undefined) return;
          const [replacement] = started;
          this.#current.push(replacement);
          this.#watch(replacement);
        },
        (error: unknown) => {
          log(`could not replace worker ${worker.process.pid}: ${messageOf(error)}`);
        },
      );
    });
  }

  /** Tells a worker to drain and waits for it to exit (killing it if it overstays). */
  async #retire(worker: Worker): Promise<void> {
    if (worker.isDead()) return;
    const exited = new Promise<void>((resolve) => {
      worker.once('exit', () => {
        resolve();
      });
    });
    const order: DrainOrder = { type: 'drain', ms: this.#options.drainMs };
    worker.send(order);
    const overstay = setTimeout(() => {
      log(`worker ${worker.process.pid} did not exit after draining; killing it`);
      worker.process.kill('SIGKILL');
    }, this.#options.drainMs + 5000);
    await exited;
    clearTimeout(overstay);
  }
}

/** `SIGKILL` or `code 1` (node types the signal as a string; it is null after a plain exit). */
function exitReason(code: number | null, signal: string | null): string {
  return signal ?? `code ${code ?? '?'}`;
}

function pidsOf(workers: readonly Worker[]): string {
  return workers.map((w) => w.process.pid).join(', ');
}

function readyOf(worker: Worker): Promise<WorkerReady> {
  return new Promise((resolve, reject) => {
    // IPC messages are whatever the other side sent: checked, not trusted.
    const onMessage = (
      message: Partial<WorkerReady> | Partial<WorkerFailed> | Partial<WorkerInvalid> | null,
    ): void => {
      if (
        message?.type === 'ready' &&
        typeof message.admin === 'string' &&
        typeof message.listeners === 'object' &&
        Array.isArray(message.warnings)
      ) {
        worker.off('exit', onExit);
        worker.off('message', onMessage);
        resolve(message as WorkerReady);
      } else if (message?.type === 'failed') {
        reject(new WorkerStartError(String(message.message)));
      } else if (message?.type === 'invalid' && Array.isArray(message.errors)) {
        reject(new InvalidConfig(message.errors.map(String)));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      worker.off('message', onMessage);
      reject(
        new WorkerStartError(
          `worker ${worker.process.pid} exited (${exitReason(code, signal)}) before listening`,
        ),
      );
    };
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

/** Tells the primary that this worker listens. */
export function reportReady(ready: Omit<WorkerReady, 'type' | 'pid'>): void {
  const message: WorkerReady = { type: 'ready', pid: process.pid, ...ready };
  process.send?.(message);
}

/** Tells the primary that this worker's config file is invalid, with every error. */
export function reportInvalid(errors: readonly string[]): Promise<void> {
  const message: WorkerInvalid = { type: 'invalid', errors };
  return sent(message);
}

/** Tells the primary that this worker could not start. */
export function reportFailed(error: unknown): Promise<void> {
  const message: WorkerFailed = { type: 'failed', message: messageOf(error) };
  return sent(message);
}

/** Sends `message` to the primary; resolves once it is handed over (so the worker may exit). */
function sent(message: WorkerFailed | WorkerInvalid): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else
      process.send(message, undefined, {}, () => {
        resolve();
      });
  });
}
