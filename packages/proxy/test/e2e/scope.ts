// Per-test lifetimes for the proxy's tests: what a test starts is closed after it. Apart from
// helpers.ts, which benchmarks import too (they run without vitest).
import type http from 'node:http';
import { afterEach } from 'vitest';
import type * as model from '@meshlet/xds';
import { createProxy, type HttpProxy, type ProxyOptions } from '../../src/index.js';
import { type NamedUpstream, namedUpstream } from './helpers.js';

/**
 * Closers run after each test of the calling file, last added first (the last thing started is
 * the first closed). Call once, at the top of a test file.
 */
export function cleanupAfterEach(): (() => unknown)[] {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

/** What an end-to-end test file starts; everything is closed after each test. */
export interface E2eScope {
  /** Closers run after each test, last added first. */
  readonly cleanups: (() => unknown)[];
  /** Creates and starts a proxy, closed after the test. */
  readonly start: (config: model.XdsSnapshot, more?: Partial<ProxyOptions>) => Promise<HttpProxy>;
  /** Starts a `namedUpstream`, closed after the test. */
  readonly upstream: (name: string, handler?: http.RequestListener) => Promise<NamedUpstream>;
}

/** An `E2eScope` for the calling test file. Call once, at the top of the file. */
export function e2eScope(): E2eScope {
  const cleanups = cleanupAfterEach();
  return {
    cleanups,
    start: async (config, more = {}) => {
      const proxy = createProxy({ config, ...more });
      cleanups.push(() => proxy.close());
      await proxy.start();
      return proxy;
    },
    upstream: async (name, handler) => {
      const u = await namedUpstream(name, handler);
      cleanups.push(u.close);
      return u;
    },
  };
}
