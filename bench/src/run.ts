// The peer benchmark suite's runner: meshlet side by side with what a user would pick instead.
//
//   npm run bench                      every scenario, full length (under 10 minutes)
//   npm run bench -- --quick           shorter runs: rough figures
//   npm run bench -- --smoke           proves every scenario works (part of npm test, < 60 s)
//   npm run bench -- http1 latency     only these scenarios
//   npm run bench -- micro [--quick]   the packages' micro benchmarks instead (bench/micro.ts)
//
// It discovers the scenarios (`bench/src/scenarios/*.ts`, each default-exporting a BenchScenario),
// runs them one after another, each bounded in time, prints their tables as markdown under a
// header naming the machine, the date and the versions, and writes that to
// `bench/results/latest.md` (`smoke.md` for a smoke run). Every process a scenario starts is
// stopped when it ends, fails, overruns or the run is interrupted. Exit status 1 if a scenario
// failed (in CI, a missing wrk/nginx/haproxy fails its scenario).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuPlacement } from './lib/cpu.ts';
import { liveTargets, stopAll } from './lib/process.ts';
import { renderTable } from './lib/table.ts';
import { inCi, makeNeed, toolVersion } from './lib/tools.ts';
import type { BenchContext, BenchMode, BenchScenario, BenchTable } from './types.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCENARIOS = fileURLToPath(new URL('./scenarios/', import.meta.url));
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

/** Seconds per measured run and runs per target, by mode. */
export const MODES: Readonly<Record<BenchMode, { seconds: number; runs: number; limitS: number }>> = {
  smoke: { seconds: 1, runs: 1, limitS: 60 },
  quick: { seconds: 2, runs: 1, limitS: 180 },
  full: { seconds: 5, runs: 3, limitS: 300 },
};

function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}

async function loadScenarios(filters: readonly string[]): Promise<BenchScenario[]> {
  const files = readdirSync(SCENARIOS, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => entry.name)
    .sort();
  const scenarios: BenchScenario[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(SCENARIOS, file)).href)) as { default?: BenchScenario };
    const scenario = module.default;
    if (scenario === undefined || typeof scenario.run !== 'function') {
      throw new Error(`bench/src/scenarios/${file} does not default-export a BenchScenario`);
    }
    scenarios.push(scenario);
  }
  const unknown = filters.filter((f) => !scenarios.some((s) => s.name === f));
  if (unknown.length > 0) {
    throw new Error(
      `no scenario ${unknown.join(', ')}; there are: ${scenarios.map((s) => s.name).join(', ')}`,
    );
  }
  return filters.length === 0 ? scenarios : scenarios.filter((s) => filters.includes(s.name));
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The header of a results file: machine, date, versions, placement, mode. */
function header(mode: BenchMode, seconds: number, runs: number): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `## Peers, side by side (${mode} run)`,
    '',
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; meshlet at commit ${gitCommit()}.`,
    `- Machine: ${cpu}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}.`,
    `- Versions: Node ${process.versions.node}; ${toolVersion('nginx')}; ${toolVersion('haproxy')}; ${toolVersion('wrk')}; ${toolVersion('h2load', ['--version'])}.`,
    `- CPU placement: ${cpuPlacement().description}.`,
    `- Runs: ${runs} per target of ${seconds} s each (median reported), loopback only.`,
  ];
  return lines.join('\n');
}

async function withLimit<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} still running after ${seconds} s: stopped`));
    }, seconds * 1000);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const mode: BenchMode = args.includes('--smoke') ? 'smoke' : args.includes('--quick') ? 'quick' : 'full';
  const filters = args.filter((a) => !a.startsWith('--'));
  const { seconds, runs, limitS } = MODES[mode];
  const scenarios = await loadScenarios(filters);
  const ctx: BenchContext = { mode, seconds, runs, root: ROOT, log, need: makeNeed(log) };
  const started = performance.now();
  log(
    `${mode} run of ${scenarios.map((s) => s.name).join(', ')}${inCi() ? ' (CI: missing tools fail)' : ''}`,
  );

  const sections = [header(mode, seconds, runs)];
  let failed = 0;
  for (const scenario of scenarios) {
    const t0 = performance.now();
    log(`── ${scenario.name}: ${scenario.description}`);
    try {
      const tables: readonly BenchTable[] = await withLimit(
        scenario.run(ctx),
        limitS,
        `scenario ${scenario.name}`,
      );
      for (const table of tables) sections.push(renderTable(table));
      log(
        `── ${scenario.name}: ${tables.length} table(s) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    } catch (error) {
      failed++;
      log(
        `── ${scenario.name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      sections.push(
        `### ${scenario.name}\n\nFAILED: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      const left = liveTargets();
      if (left.length > 0) {
        log(
          `stopping what ${scenario.name} left running: ${left.map((t) => `${t.name} (pid ${t.pid})`).join(', ')}`,
        );
        await stopAll();
      }
    }
  }

  const markdown = `${sections.join('\n\n')}\n`;
  process.stdout.write(`\n${markdown}`);
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, mode === 'smoke' ? 'smoke.md' : 'latest.md');
  writeFileSync(file, markdown);
  log(
    `${failed ? `${failed} scenario(s) FAILED` : 'done'} in ${((performance.now() - started) / 1000).toFixed(0)} s; wrote ${file.slice(ROOT.length)}`,
  );
  return failed ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping every target`);
    void stopAll().finally(() => process.exit(130));
  });
}

// Exits explicitly: a scenario stopped by its time limit may still hold a timer or a socket.
main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    log(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    await stopAll();
    process.exit(1);
  },
);
