// The meshlet proxy under soak, alone in its own process so that its RSS and handles are its own.
// The soak harness (harness.ts) forks it with `--expose-gc` and talks to it over IPC:
//   parent → child  { type: 'start', bootstrap }   → { type: 'started', ports }
//                   { type: 'update', bootstrap, seq } → { type: 'updated', seq, error? }
//                   { type: 'sample', seq }         → { type: 'sample', seq, sample } (after full GCs)
//                   { type: 'stop' }                → { type: 'stopped' }, then the process exits
// Errors the proxy reports (its `error` event) are counted and the last few sent along with each
// sample: the harness fails the run if the proxy reported any it did not expect.
import { createProxy, snapshotOfBootstrap, type HttpProxy } from '@meshlet/proxy';
import { parseBootstrap } from '@meshlet/xds';
import type { ProxySample, ToChild, ToParent } from './protocol.ts';

let proxy: HttpProxy | undefined;
let proxyErrors = 0;
const lastErrors: string[] = [];

function send(message: ToParent): void {
  process.send?.(message);
}

function snapshotOf(bootstrap: object): ReturnType<typeof snapshotOfBootstrap> {
  return snapshotOfBootstrap(parseBootstrap(bootstrap, 'soak bootstrap').bootstrap);
}

/** Counts of `process.getActiveResourcesInfo()` by type (TCPSocketWrap, Timeout, ...). */
function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function sample(): ProxySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Two full collections: the second one frees what the first one's finalizers released.
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    handles: handleCounts(),
    proxyErrors,
    lastErrors: lastErrors.slice(),
    cpuMicros: process.cpuUsage().user + process.cpuUsage().system,
    clusterCounters: clusterCounters(),
  };
}

const COUNTER_LINE =
  /^envoy_cluster_(upstream_rq_retry|upstream_cx_connect_fail|upstream_rq_total)\{envoy_cluster_name="([^"]+)"\} (\d+)$/gm;

/** A few cluster counters from the proxy's stats, `<cluster>.<stat>`. */
function clusterCounters(): Record<string, number> {
  const counters: Record<string, number> = {};
  const text = proxy?.stats?.prometheus() ?? '';
  for (const m of text.matchAll(COUNTER_LINE)) counters[`${m[2]}.${m[1]}`] = Number(m[3]);
  return counters;
}

async function handle(message: ToChild): Promise<void> {
  switch (message.type) {
    case 'start': {
      proxy = createProxy({ config: snapshotOf(message.bootstrap) });
      proxy.on('error', (error: unknown, where: string) => {
        proxyErrors++;
        lastErrors.push(`${where}: ${String(error)}`);
        if (lastErrors.length > 5) lastErrors.shift();
      });
      await proxy.start();
      const ports: Record<string, number> = {};
      for (const [name, address] of proxy.addresses) ports[name] = address.port;
      send({ type: 'started', ports });
      return;
    }
    case 'update': {
      try {
        if (proxy === undefined) throw new Error('update before start');
        await proxy.update(snapshotOf(message.bootstrap));
        send({ type: 'updated', seq: message.seq, error: null });
      } catch (error) {
        send({ type: 'updated', seq: message.seq, error: (error as Error).message });
      }
      return;
    }
    case 'sample':
      send({ type: 'sample', seq: message.seq, sample: sample() });
      return;
    case 'stop':
      await proxy?.close();
      send({ type: 'stopped' });
      process.disconnect();
      return;
  }
}

process.on('message', (message: ToChild) => {
  handle(message).catch((error: unknown) => {
    send({ type: 'fatal', error: String((error as Error).stack ?? error) });
  });
});
