// Running a load-loop child (bolt/load.ts, grpc/load.ts) from a scenario, and billing a target's
// CPU time to the calls it served. The child is a Node process of its own, pinned where the
// runner's CPU placement puts load generators.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fmt, median, pinned, processTree, type Target } from '../../lib/index.ts';
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

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU time of `pid` and its descendants so far, in µs (from /proc, 10 ms steps). */
export function treeCpuUs(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      const text = readFileSync(`/proc/${member}/stat`, 'utf8');
      // Fields after "pid (comm) ": state is the 1st, utime the 12th, stime the 13th.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return (ticks * 1e6) / TICKS_PER_SECOND;
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
  const runs = new Map<LoopTarget, { report: LoadReport; proxyCpuUs: number | undefined }[]>(
    targets.map((t) => [t, []]),
  );
  for (let round = 0; round < ctx.runs; round++) {
    for (const target of targets) {
      const cpuBefore = target.proxy === undefined ? 0 : treeCpuUs(target.proxy.pid);
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
      const proxyCpuUs =
        target.proxy === undefined || report.total === 0
          ? undefined
          : (treeCpuUs(target.proxy.pid) - cpuBefore) / report.total;
      ctx.log(
        `${plan.name}: run ${round + 1}/${ctx.runs} ${target.label}: ${Math.round(report.rps)} calls/s, p99 ${report.p99Ms.toFixed(2)} ms, ${report.errors} errors`,
      );
      runs.get(target)?.push({ report, proxyCpuUs });
    }
  }
  return targets.map((target): BenchRow => {
    const list = runs.get(target) ?? [];
    const proxyCpu = list.flatMap((r) => (r.proxyCpuUs === undefined ? [] : [r.proxyCpuUs]));
    return {
      target: target.label,
      rps: median(list.map((r) => r.report.rps)),
      p50Ms: median(list.map((r) => r.report.p50Ms)),
      p99Ms: median(list.map((r) => r.report.p99Ms)),
      p999Ms: median(list.map((r) => r.report.p999Ms)),
      rssMiB: target.rssOf.rssKiB() / 1024,
      errors: list.reduce((n, r) => n + r.report.errors, 0),
      extra: {
        'proxy CPU/call': proxyCpu.length === 0 ? '—' : `${fmt(median(proxyCpu))} µs`,
        'load CPU/call': `${fmt(median(list.map((r) => r.report.clientCpuUsPerCall)))} µs`,
      },
    };
  });
}
