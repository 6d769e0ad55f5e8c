// Running a load-loop child (bolt/load.ts, grpc/load.ts) from a scenario, and billing a target's
// CPU time to the calls it served. The child is a Node process of its own, pinned where the
// runner's CPU placement puts load generators.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  type CpuPlacement,
  cpuPlacement,
  fmt,
  freePort,
  median,
  pinned,
  processTree,
  startMeshlet,
  startNodeScript,
  type Target,
} from '../../lib/index.ts';
import type { BenchContext, BenchRow } from '../../types.ts';
import { type LoadReport, parseReport } from './report.ts';

/** Runs `script` with `args` on `cpus` and resolves with its report; rejects if it fails. */
export function runLoop(
  script: string,
  args: readonly string[],
  cpus: string | undefined,
  timeoutMs: number,
): Promise<LoadReport> {
  const { command, args: argv } = pinned(cpus, process.execPath, [script, ...args]);
  return new Promise((resolve, reject) => {
    execFile(
      command,
      argv,
      { timeout: timeoutMs, maxBuffer: 1 << 20, env: { ...process.env, NODE_ENV: 'production' } },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`${script} failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(parseReport(stdout));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    );
  });
}

/** Scheduler figures of a process tree, summed over its threads (from /proc/<pid>/schedstat). */
export interface SchedSample {
  /** Time on a CPU, in µs. */
  readonly cpuUs: number;
  /** Time runnable but waiting for a CPU (run-queue delay), in µs. */
  readonly waitUs: number;
  /** performance.now() when read, in ms. */
  readonly at: number;
}

/**
 * CPU time and run-queue delay of `pid` and its descendants so far (nanosecond counters). The
 * wait says how much a target was starved by other processes on its core: on a shared machine
 * its requests/s measure the neighbours as much as the target.
 */
export function treeSched(pid: number): SchedSample {
  let cpuNs = 0;
  let waitNs = 0;
  for (const member of processTree(pid)) {
    try {
      const [cpu, wait] = readFileSync(`/proc/${member}/schedstat`, 'utf8').split(' ');
      cpuNs += Number(cpu);
      waitNs += Number(wait);
    } catch {
      // gone meanwhile
    }
  }
  return { cpuUs: cpuNs / 1000, waitUs: waitNs / 1000, at: performance.now() };
}

/** The extra columns of a proxy's run: its CPU time per call, and its share of time starved. */
export function schedColumns(
  before: SchedSample,
  after: SchedSample,
  calls: number,
): { cpuPerCallUs: number; waitShare: number } {
  const wallUs = (after.at - before.at) * 1000;
  return {
    cpuPerCallUs: calls === 0 ? Number.NaN : (after.cpuUs - before.cpuUs) / calls,
    waitShare: wallUs <= 0 ? Number.NaN : (after.waitUs - before.waitUs) / wallUs,
  };
}

/** One target of a load-loop table: where the loop connects, and its process (none: direct). */
export interface LoopTarget {
  readonly label: string;
  readonly port: number;
  /** The measured proxy (its CPU time is billed per call); undefined for "direct". */
  readonly proxy: Target | undefined;
  /** Whose RSS the row shows: the proxy's, or for "direct" the upstream's. */
  readonly rssOf: Target;
}

/** What the runs of one table share. */
export interface LoopPlan {
  readonly name: string;
  readonly script: string;
  /** The loop's arguments other than --port, --seconds and --warmup. */
  readonly args: readonly string[];
  readonly warmupSeconds: number;
  readonly cpus: string | undefined;
}

/**
 * Runs the loop `ctx.runs` times against every target, interleaved (round r measures each target
 * once, so a noisy neighbour spreads over all alike), and returns one row per target: medians
 * of the runs, errors summed, the proxy's CPU time per call and the loop's own.
 */
export async function interleaved(
  ctx: BenchContext,
  plan: LoopPlan,
  targets: readonly LoopTarget[],
): Promise<BenchRow[]> {
  const runs = new Map<
    LoopTarget,
    { report: LoadReport; proxy: { cpuPerCallUs: number; waitShare: number } | undefined }[]
  >(targets.map((t) => [t, []]));
  for (let round = 0; round < ctx.runs; round++) {
    for (const target of targets) {
      const before = target.proxy === undefined ? undefined : treeSched(target.proxy.pid);
      const report = await runLoop(
        plan.script,
        [
          '--port',
          String(target.port),
          '--seconds',
          String(ctx.seconds),
          '--warmup',
          String(plan.warmupSeconds),
          ...plan.args,
        ],
        plan.cpus,
        (ctx.seconds + plan.warmupSeconds) * 1000 + 60_000,
      );
      const proxy =
        target.proxy === undefined || before === undefined
          ? undefined
          : schedColumns(before, treeSched(target.proxy.pid), report.total);
      ctx.log(
        `${plan.name}: run ${round + 1}/${ctx.runs} ${target.label}: ${Math.round(report.rps)} calls/s, p99 ${report.p99Ms.toFixed(2)} ms, ${report.errors} errors`,
      );
      runs.get(target)?.push({ report, proxy });
    }
  }
  return targets.map((target): BenchRow => {
    const list = runs.get(target) ?? [];
    const proxy = list.flatMap((r) => (r.proxy === undefined ? [] : [r.proxy]));
    return {
      target: target.label,
      rps: median(list.map((r) => r.report.rps)),
      p50Ms: median(list.map((r) => r.report.p50Ms)),
      p99Ms: median(list.map((r) => r.report.p99Ms)),
      p999Ms: median(list.map((r) => r.report.p999Ms)),
      rssMiB: target.rssOf.rssKiB() / 1024,
      errors: list.reduce((n, r) => n + r.report.errors, 0),
      extra: {
        'proxy CPU/call': proxy.length === 0 ? '—' : `${fmt(median(proxy.map((p) => p.cpuPerCallUs)))} µs`,
        'proxy starved': proxy.length === 0 ? '—' : percent(median(proxy.map((p) => p.waitShare))),
        'load CPU/call': `${fmt(median(list.map((r) => r.report.clientCpuUsPerCall)))} µs`,
      },
    };
  });
}

/** A share as a percentage cell. */
export function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)} %` : '—';
}

/** A Node upstream with `meshlet run` in front of it, as the two targets of a direct-vs-meshlet table. */
export interface ProxiedUpstream {
  /** Names the processes in progress lines ("Bolt" → "Bolt upstream", "meshlet (Bolt)"). */
  readonly name: string;
  readonly upstreamScript: string;
  /** The meshlet bootstrap for these ports. */
  bootstrap(proxyPort: number, upstreamPort: number): string;
  /** Row labels. */
  readonly direct: string;
  readonly meshlet: string;
}

/**
 * Starts the upstream (on the load CPUs) and meshlet (on the target CPUs), runs `body` with the
 * two loop targets, and stops both whatever happens.
 */
export async function withProxiedUpstream<T>(
  spec: ProxiedUpstream,
  body: (targets: readonly LoopTarget[], placement: CpuPlacement) => Promise<T>,
): Promise<T> {
  const placement = cpuPlacement();
  const upstreamPort = await freePort();
  const upstream = await startNodeScript({
    name: `${spec.name} upstream`,
    script: spec.upstreamScript,
    args: ['--port', String(upstreamPort)],
    port: upstreamPort,
    cpus: placement.load,
  });
  let meshlet: Target | undefined;
  try {
    const proxyPort = await freePort();
    meshlet = await startMeshlet({
      name: `meshlet (${spec.name})`,
      bootstrap: spec.bootstrap(proxyPort, upstreamPort),
      port: proxyPort,
      cpus: placement.target,
    });
    return await body(
      [
        { label: spec.direct, port: upstreamPort, proxy: undefined, rssOf: upstream },
        { label: spec.meshlet, port: proxyPort, proxy: meshlet, rssOf: meshlet },
      ],
      placement,
    );
  } finally {
    await meshlet?.stop();
    await upstream.stop();
  }
}
