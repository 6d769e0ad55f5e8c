// The soak: mixed HTTP/1.1, HTTP/2, gRPC and Bolt load through one meshlet proxy (its own
// process), a config update every few seconds, one instance of every cluster killed and restarted
// on a schedule; then the verdict: no failed request attributable to the proxy (load.ts defines
// it), every update applied, and the proxy's memory and handles flat.
//
// Memory and handles are read by the proxy process itself after two full GCs: under load every
// `sampleEveryMs`, and twice with the load paused and nothing in flight (after the warm-up, and
// at the end), where the handle counts must match: connections, timers and pools do not pile up
// with requests, updates or restarts.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { soakBootstrap, type SoakPorts } from './config.ts';
import {
  BoltLoadClient,
  GrpcClient,
  Http1Client,
  Http2Client,
  type LoadClient,
  type LoadCounts,
} from './load.ts';
import type { ProxySample, ToChild, ToParent } from './protocol.ts';
import { startUpstreams, type Upstream } from './upstreams.ts';

/** How long and how hard to soak. */
export interface SoakOptions {
  readonly durationMs: number;
  /** A config update (a new version through `proxy.update`) this often. */
  readonly updateEveryMs: number;
  /** One instance of every cluster killed this often (a, then b, ...), down for `restartDownMs`. */
  readonly restartEveryMs: number;
  readonly restartDownMs: number;
  /** Memory and handles sampled under load this often. */
  readonly sampleEveryMs: number;
  /** Load before the baseline sample (pools filled, code warm). */
  readonly warmupMs: number;
  /** Requests per second of each protocol, and the loops sending them. */
  readonly rate: number;
  readonly concurrency: number;
  /** Progress lines (CLI); the test passes nothing. */
  readonly log?: (line: string) => void;
}

/** A memory sample with its time since the start of the soak. */
export interface TimedSample {
  readonly atMs: number;
  readonly sample: ProxySample;
}

/** What the soak measured. */
export interface SoakReport {
  readonly options: Omit<SoakOptions, 'log'>;
  readonly elapsedMs: number;
  readonly load: Record<string, LoadCounts>;
  readonly updates: {
    readonly applied: number;
    readonly failed: readonly string[];
    readonly lastVersion: number;
  };
  readonly restarts: number;
  /** Requests each upstream instance answered. */
  readonly served: Record<string, number>;
  /** Quiet samples (no request in flight): after the warm-up, and at the end. */
  readonly baseline: ProxySample;
  readonly final: ProxySample;
  readonly samples: readonly TimedSample[];
}

/** The proxy process: an IPC request/answer channel. */
class ProxyProcess {
  private readonly child: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<string, (message: ToParent) => void>();
  private readonly exited: Promise<void>;
  fatal: string | null = null;

  constructor() {
    this.child = fork(fileURLToPath(new URL('proxy-process.ts', import.meta.url)), [], {
      execArgv: ['--expose-gc', '--no-warnings'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (message: ToParent) => {
      if (message.type === 'fatal') {
        this.fatal = message.error;
        return;
      }
      const key = 'seq' in message ? `${message.type}:${message.seq}` : message.type;
      const resolve = this.waiting.get(key);
      this.waiting.delete(key);
      resolve?.(message);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        resolve();
      });
    });
  }

  private ask<T extends ToParent>(message: ToChild, answer: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(answer);
        reject(
          new Error(`the proxy process did not answer ${answer} (${this.fatal ?? 'no error reported'})`),
        );
      }, 30_000);
      this.waiting.set(answer, (m) => {
        clearTimeout(timer);
        resolve(m as T);
      });
      this.child.send(message);
    });
  }

  async start(bootstrap: object): Promise<Record<string, number>> {
    const m = await this.ask<{ type: 'started'; ports: Record<string, number> }>(
      { type: 'start', bootstrap },
      'started',
    );
    return m.ports;
  }

  async update(bootstrap: object): Promise<string | null> {
    const seq = ++this.seq;
    const m = await this.ask<{ type: 'updated'; seq: number; error: string | null }>(
      { type: 'update', seq, bootstrap },
      `updated:${seq}`,
    );
    return m.error;
  }

  async sample(): Promise<ProxySample> {
    const seq = ++this.seq;
    const m = await this.ask<{ type: 'sample'; seq: number; sample: ProxySample }>(
      { type: 'sample', seq },
      `sample:${seq}`,
    );
    return m.sample;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    try {
      await this.ask({ type: 'stop' }, 'stopped');
    } finally {
      this.child.kill();
      await this.exited;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs a soak and returns what it measured; `verdict(report)` judges it. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? ((): void => undefined);
  const upstreams = await startUpstreams();
  const proxy = new ProxyProcess();
  const clients: LoadClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const ports: SoakPorts = {
      web: upstreams.web.map((u) => u.port),
      grpc: upstreams.grpc.map((u) => u.port),
      bolt: upstreams.bolt.map((u) => u.port),
    };
    let version = 1;
    const bound = await proxy.start(soakBootstrap(ports, version));
    const listeners = { http1: bound.http1 ?? 0, h2: bound.h2 ?? 0, bolt: bound.bolt ?? 0 };
    log(`proxy listening: ${JSON.stringify(listeners)}`);

    const { rate, concurrency } = options;
    clients.push(
      new Http1Client(listeners.http1, concurrency, rate),
      new Http2Client(listeners.h2, concurrency, rate),
      new GrpcClient(listeners.h2, concurrency, rate),
      new BoltLoadClient(listeners.bolt, concurrency, rate),
    );
    for (const c of clients) await c.open();
    for (const c of clients) c.start();
    const started = performance.now();
    const quietSample = async (): Promise<ProxySample> => {
      await Promise.all(clients.map((c) => c.pause()));
      const sample = await proxy.sample();
      for (const c of clients) c.unpause();
      return sample;
    };

    await sleep(options.warmupMs);
    const baseline = await quietSample();
    log(
      `baseline: rss ${mib(baseline.rss)} heap ${mib(baseline.heapUsed)} handles ${total(baseline.handles)}`,
    );

    // The churn: updates, restarts and samples on their own schedules, never two of a kind at once.
    const updateErrors: string[] = [];
    let applied = 0;
    let restarts = 0;
    const samples: TimedSample[] = [];
    const pending = new Set<Promise<unknown>>();
    const every = (ms: number, task: () => Promise<void>): void => {
      let busy = false;
      timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          const p = task().finally(() => {
            busy = false;
            pending.delete(p);
          });
          pending.add(p);
        }, ms),
      );
    };
    every(options.updateEveryMs, async () => {
      const next = version + 1;
      let error: string | null;
      try {
        error = await proxy.update(soakBootstrap(ports, next));
      } catch (e) {
        error = (e as Error).message;
      }
      if (error === null) {
        version = next;
        applied++;
      } else updateErrors.push(`version ${next}: ${error}`);
    });
    let nextInstance = 0;
    every(options.restartEveryMs, async () => {
      const index = nextInstance++ % 2;
      const victims: Upstream[] = [upstreams.web, upstreams.grpc, upstreams.bolt].map(
        (set) => set[index] as Upstream,
      );
      await Promise.all(victims.map((u) => u.kill()));
      await sleep(options.restartDownMs);
      await Promise.all(victims.map((u) => u.start()));
      restarts++;
      log(`restarted ${victims.map((u) => u.name).join(', ')}`);
    });
    const logged = new Map<LoadClient, number>();
    every(options.sampleEveryMs, async () => {
      const sample = await proxy.sample();
      samples.push({ atMs: Math.round(performance.now() - started), sample });
      const ok = clients.map((c) => `${c.protocol} ${c.counts.ok}/${c.counts.proxyFailures}`).join(' ');
      log(
        `${Math.round((performance.now() - started) / 1000)}s rss ${mib(sample.rss)} heap ${mib(sample.heapUsed)} ` +
          `handles ${total(sample.handles)} config v${version} | ok/proxy-failed: ${ok}`,
      );
      for (const c of clients) {
        const failures = c.counts.failures;
        for (let i = logged.get(c) ?? 0; i < failures.length; i++) log(`  ${c.protocol} ${failures[i]}`);
        logged.set(c, failures.length);
      }
    });

    await sleep(Math.max(0, options.durationMs - (performance.now() - started)));
    for (const t of timers) clearInterval(t);
    timers.length = 0;
    await Promise.all(pending); // a restart in progress brings its instances back first
    const final = await quietSample();
    const elapsedMs = Math.round(performance.now() - started);
    const load: Record<string, LoadCounts> = {};
    for (const c of clients) load[c.protocol] = c.counts;
    for (const c of clients) await c.stop();
    clients.length = 0;
    if (proxy.fatal !== null) throw new Error(`the proxy process failed: ${proxy.fatal}`);

    const { log: _log, ...rest } = options;
    const served: Record<string, number> = {};
    for (const u of [...upstreams.web, ...upstreams.grpc, ...upstreams.bolt]) served[u.name] = u.served;
    return {
      options: rest,
      elapsedMs,
      load,
      updates: { applied, failed: updateErrors, lastVersion: version },
      restarts,
      served,
      baseline,
      final,
      samples,
    };
  } finally {
    for (const t of timers) clearInterval(t);
    for (const c of clients) await c.stop().catch(() => undefined);
    await proxy.stop().catch(() => undefined);
    for (const u of [...upstreams.web, ...upstreams.grpc, ...upstreams.bolt]) await u.kill();
  }
}

/** Bytes as MiB, one decimal. */
export const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(1)} MiB`;

/** All handles of a sample. */
export function total(handles: Record<string, number>): number {
  let n = 0;
  for (const count of Object.values(handles)) n += count;
  return n;
}

/** How much a soak may grow before it counts as a leak. */
export interface SoakLimits {
  /** Heap after GC, quiet at the end vs quiet after the warm-up. */
  readonly heapGrowthBytes: number;
  /** Memory outside the JS heap that Node tracks (`external`, Buffers), quiet, end vs warm-up. */
  readonly externalGrowthBytes: number;
  /** RSS, median of the last quarter of the samples under load vs the first quarter. */
  readonly rssGrowthBytes: number;
  /** Handles (sockets, timers...), quiet at the end vs quiet after the warm-up. */
  readonly handleGrowth: number;
}

/**
 * The bounds a soak is held to (docs/reliability.md, "Soak"). RSS keeps growing for the first
 * minute or two under load (V8's young generation and the allocator's arenas reach their working
 * size; the first upstream restarts add a step each), so a run shorter than five minutes only
 * guards against a gross leak there (96 MiB, 4 KiB per request of the 60-second test); longer
 * runs compare quarters well past the warm-up and allow 32 MiB.
 */
export function soakLimits(durationMs: number): SoakLimits {
  return {
    heapGrowthBytes: 8 * 1048576,
    externalGrowthBytes: 4 * 1048576,
    rssGrowthBytes: (durationMs < 5 * 60_000 ? 96 : 32) * 1048576,
    handleGrowth: 4,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** RSS medians of the first and last quarter of the samples under load. */
export function rssWindows(report: SoakReport): { readonly first: number; readonly last: number } {
  const rss = report.samples.map((s) => s.sample.rss);
  const quarter = Math.max(1, Math.floor(rss.length / 4));
  return { first: median(rss.slice(0, quarter)), last: median(rss.slice(-quarter)) };
}

/** What is wrong with a soak: an empty list when it passed. */
export function verdict(
  report: SoakReport,
  limits: SoakLimits = soakLimits(report.options.durationMs),
): string[] {
  const problems: string[] = [];
  for (const [protocol, counts] of Object.entries(report.load)) {
    if (counts.proxyFailures > 0)
      problems.push(
        `${protocol}: ${counts.proxyFailures} failed requests attributable to the proxy: ${counts.failures.join('; ')}`,
      );
    if (counts.ok === 0) problems.push(`${protocol}: no request succeeded`);
    if (protocol !== 'bolt' && counts.highestConfig < report.updates.lastVersion - 1)
      problems.push(
        `${protocol}: answers carried config v${counts.highestConfig}, the proxy is at v${report.updates.lastVersion}`,
      );
  }
  if (report.updates.failed.length > 0)
    problems.push(`config updates failed: ${report.updates.failed.join('; ')}`);
  if (report.updates.applied === 0) problems.push('no config update was applied');
  if (report.restarts === 0) problems.push('no upstream was restarted');
  for (const [name, served] of Object.entries(report.served)) {
    if (served === 0) problems.push(`upstream ${name} served nothing`);
  }
  if (report.final.proxyErrors > 0)
    problems.push(
      `the proxy reported ${report.final.proxyErrors} errors: ${report.final.lastErrors.join('; ')}`,
    );
  const heap = report.final.heapUsed - report.baseline.heapUsed;
  if (heap > limits.heapGrowthBytes)
    problems.push(`heap grew by ${mib(heap)} (limit ${mib(limits.heapGrowthBytes)})`);
  const external =
    report.final.external +
    report.final.arrayBuffers -
    (report.baseline.external + report.baseline.arrayBuffers);
  if (external > limits.externalGrowthBytes)
    problems.push(`external memory grew by ${mib(external)} (limit ${mib(limits.externalGrowthBytes)})`);
  const { first, last } = rssWindows(report);
  if (last - first > limits.rssGrowthBytes)
    problems.push(`RSS grew from ${mib(first)} to ${mib(last)} (limit +${mib(limits.rssGrowthBytes)})`);
  const handles = total(report.final.handles) - total(report.baseline.handles);
  if (handles > limits.handleGrowth)
    problems.push(
      `handles grew by ${handles}: ${JSON.stringify(report.baseline.handles)} → ${JSON.stringify(report.final.handles)}`,
    );
  return problems;
}

/** The report as the markdown docs/reliability.md quotes: one table of load, one of resources. */
export function formatReport(report: SoakReport): string {
  const seconds = (report.elapsedMs / 1000).toFixed(0);
  const lines = [
    `Soak of ${seconds} s: config update every ${report.options.updateEveryMs / 1000} s ` +
      `(${report.updates.applied} applied, ${report.updates.failed.length} failed), one instance of each ` +
      `cluster killed every ${report.options.restartEveryMs / 1000} s and down ${report.options.restartDownMs} ms ` +
      `(${report.restarts} restarts), ${report.options.rate} rq/s per protocol over ${report.options.concurrency} loops.`,
    '',
    '| protocol | requests ok | failed: proxy | failed: upstream | rq/s |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const [protocol, c] of Object.entries(report.load)) {
    const all = c.ok + c.proxyFailures + c.upstreamFailures;
    lines.push(
      `| ${protocol} | ${c.ok} | ${c.proxyFailures} | ${c.upstreamFailures} | ${(all / (report.elapsedMs / 1000)).toFixed(0)} |`,
    );
  }
  const counters = report.final.clusterCounters;
  const sum = (stat: string): number =>
    Object.entries(counters)
      .filter(([k]) => k.endsWith(stat))
      .reduce((n, [, v]) => n + v, 0);
  const { first, last } = rssWindows(report);
  const heaps = report.samples.map((s) => s.sample.heapUsed);
  lines.push(
    '',
    `Absorbed by the proxy: ${sum('.upstream_cx_connect_fail')} upstream connect failures, ` +
      `${sum('.upstream_rq_retry')} retries (all clusters).`,
    '',
    '| proxy process | after warm-up | end | growth |',
    '| --- | ---: | ---: | ---: |',
    `| RSS under load (median of first / last quarter of ${report.samples.length} samples) | ${mib(first)} | ${mib(last)} | ${mib(last - first)} |`,
    `| heap after GC, quiet | ${mib(report.baseline.heapUsed)} | ${mib(report.final.heapUsed)} | ${mib(report.final.heapUsed - report.baseline.heapUsed)} |`,
    `| external + array buffers, quiet | ${mib(report.baseline.external + report.baseline.arrayBuffers)} | ${mib(report.final.external + report.final.arrayBuffers)} | ${mib(report.final.external + report.final.arrayBuffers - report.baseline.external - report.baseline.arrayBuffers)} |`,
    `| heap after GC under load, min / max | ${mib(Math.min(...heaps))} | ${mib(Math.max(...heaps))} | |`,
    `| handles, quiet | ${total(report.baseline.handles)} | ${total(report.final.handles)} | ${total(report.final.handles) - total(report.baseline.handles)} |`,
    `| proxy CPU time | | ${(report.final.cpuMicros / 1e6).toFixed(1)} s | |`,
  );
  return lines.join('\n');
}
