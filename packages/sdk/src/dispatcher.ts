// The mesh as an undici Dispatcher: `setGlobalDispatcher(mesh.dispatcher)` sends an application's
// `fetch()` through the mesh's egress.
import { Dispatcher } from 'undici';

/** What the dispatcher runs requests through (the mesh). */
export interface DispatchTarget {
  dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  close(): Promise<void>;
}

/**
 * An undici `Dispatcher` whose requests run through the mesh in-process (routing, load
 * balancing, retries, breakers, stats, tracing). `close()` and `destroy()` close the mesh.
 */
export class MeshDispatcher extends Dispatcher {
  readonly #target: DispatchTarget;

  constructor(target: DispatchTarget) {
    super();
    this.#target = target;
  }

  /** Runs one request through the mesh (undici's handler protocol). */
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#target.dispatch(options, handler);
  }

  /** Closes the mesh (draining requests in flight). */
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    const done = this.#target.close();
    if (callback === undefined) return done;
    void done.then(callback, callback);
    return undefined;
  }

  /** Closes the mesh, as `close()`: requests in flight get the drain timeout. */
  override destroy(err?: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
    const callback = typeof a === 'function' ? a : b;
    if (callback === undefined) return this.close();
    this.close(callback);
    return undefined;
  }
}
