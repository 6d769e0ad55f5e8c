// Leak checks for the fault tests: every socket, server and timer created while a scenario runs,
// tracked by async_hooks (which sees unref'd handles too, unlike process.getActiveResourcesInfo),
// must be gone once the scenario closed what it started; and the process's active resources must
// be back to what they were before.
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { expect } from 'vitest';
import type { StatsStore } from '@meshlet/stats';
import type { HttpProxy } from '../../src/index.js';

/** The async resource types that are a leak when left behind. */
// (TLSWRAP is left out: its destroy hook waits for GC; the TCPWRAP under it closes with it.)
const TRACKED = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'Timeout', 'PIPEWRAP']);

/** Counts of `process.getActiveResourcesInfo()` by type. */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) out[type] = (out[type] ?? 0) + 1;
  return out;
}

/** What a scenario created and has not destroyed yet. */
export interface ResourceTracker {
  /** Live tracked resources created since `trackResources()`, by type. */
  live(): Record<string, number>;
  /**
   * Waits (event-loop turns, no timers) until every tracked resource is destroyed and the active
   * resources are back to the start, up to a bound; then stops tracking and returns what is left.
   */
  settle(): Promise<{
    live: Record<string, number>;
    active: Record<string, number>;
    before: Record<string, number>;
  }>;
}

/** Starts tracking; call `settle()` after the scenario closed everything it started. */
export function trackResources(): ResourceTracker {
  const before = activeResources();
  const live = new Map<number, string>();
  const hook = createHook({
    init(asyncId, type) {
      if (!TRACKED.has(type)) return;
      const stack = new Error().stack ?? '';
      // Node's process-wide cache of the HTTP Date header (one unref'd timer), not a scenario's.
      if (type === 'Timeout' && stack.includes('utcDate')) return;
      // undici's process-wide coarse clock (one unref'd timer that stops itself when idle).
      if (type === 'Timeout' && stack.includes('undici/lib/util/timers.js')) return;
      live.set(asyncId, process.env.MESHLET_LEAK_STACKS ? `${type} ${stack}` : type);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  hook.enable();
  const count = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const type of live.values()) out[type] = (out[type] ?? 0) + 1;
    if (process.env.MESHLET_LEAK_STACKS && live.size) console.log([...live.values()].join('\n\n'));
    return out;
  };
  return {
    live: count,
    async settle() {
      // Handles close in callbacks of later turns: give the loop up to 200 turns to run them.
      for (let i = 0; i < 200; i++) {
        if (live.size === 0 && noMore(activeResources(), before)) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      hook.disable();
      return { live: count(), active: activeResources(), before };
    },
  };
}

/** Whether `after` has no more of any type than `before` (what existed before may have ended). */
export function noMore(after: Record<string, number>, before: Record<string, number>): boolean {
  for (const k of Object.keys(after)) if ((after[k] ?? 0) > (before[k] ?? 0)) return false;
  return true;
}

/** A counter's or gauge's value by its flat name (`/stats` naming), `undefined` if absent. */
export function statOf(proxy: HttpProxy, name: string): number | undefined {
  const store = proxy.stats as StatsStore;
  for (const c of store.counters()) if (c.name === name) return c.value;
  for (const g of store.gauges()) if (g.name === name) return g.value;
  return undefined;
}

/** What `leakChecked` needs of a scenario: a close, and the fake clock the proxy ran on. */
export interface LeakCheckedScenario {
  close(): Promise<void>;
  readonly time: { readonly pendingTimers: number };
}

/** Runs a scenario, closes it, and checks that nothing it created is left behind. */
export async function leakChecked<S extends LeakCheckedScenario>(
  make: () => S,
  run: (s: S) => Promise<void>,
): Promise<void> {
  const tracker = trackResources();
  const s = make();
  try {
    await run(s);
  } finally {
    await s.close();
  }
  const left = await tracker.settle();
  expect(left.live, 'sockets, servers and timers created and not destroyed').toEqual({});
  expect(
    noMore(left.active, left.before),
    `active resources ${JSON.stringify(left.active)} within ${JSON.stringify(left.before)}`,
  ).toBe(true);
  expect(s.time.pendingTimers, 'proxy timers pending after close').toBe(0);
}

/**
 * A raw TCP server on loopback: `onSocket` decides what each connection gets. Its closer (pushed
 * on `closers`) destroys every open connection and closes the server.
 */
export async function rawServer(
  onSocket: (socket: Socket) => void,
  closers: (() => unknown)[],
): Promise<{ port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    if (server.listening) await once(server, 'close');
  });
  return { port: (server.address() as AddressInfo).port, sockets };
}
