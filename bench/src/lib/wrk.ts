// wrk: the closed-loop HTTP/1.1 load generator (Debian's `wrk` 4.x), run in its own process on
// the load CPUs, bounded in time. Its text report is parsed (requests/s, the `--latency`
// distribution, errors), and a small Lua `done()` hook adds the percentiles the text report
// lacks (99.9 %) from the same histogram.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinned } from './cpu.ts';
import { toolPath } from './tools.ts';

export interface WrkOptions {
  /** e.g. "http://127.0.0.1:8080/". Loopback only. */
  readonly url: string;
  readonly seconds: number;
  /** Open connections (-c). Default 50. */
  readonly connections?: number | undefined;
  /** Threads (-t). Default 1 (the load CPU is one core). */
  readonly threads?: number | undefined;
  /** Request timeout (--timeout), seconds. Default 5. */
  readonly timeoutSeconds?: number | undefined;
  /** taskset CPU list for wrk. */
  readonly cpus?: string | undefined;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** What one wrk run measured. Latencies in milliseconds. */
export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** From the Lua hook; NaN when the hook's line is missing. */
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses. */
  readonly errors: number;
  readonly non2xx: number;
  /** wrk's own report, as printed. */
  readonly raw: string;
}

// wrk's latency histogram is in microseconds; the hook prints one machine-readable line.
const DONE_HOOK = `done = function(summary, latency, requests)
  io.write(string.format("MESHLET_WRK %d %d %d %d %d %d %d %d\\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout + summary.errors.status))
end
`;

/** Runs wrk once; rejects if wrk fails or overruns its duration by more than 15 s. */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  assertLoopback(options.url);
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-wrk-'));
  try {
    const script = join(dir, 'done.lua');
    writeFileSync(script, DONE_HOOK);
    const args = [
      `-t${options.threads ?? 1}`,
      `-c${options.connections ?? 50}`,
      `-d${Math.max(1, Math.round(options.seconds))}s`,
      `--timeout`,
      `${options.timeoutSeconds ?? 5}s`,
      '--latency',
      '-s',
      script,
    ];
    for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
    args.push(options.url);
    const { command, args: argv } = pinned(options.cpus, toolPath('wrk'), args);
    const raw = await runBounded(command, argv, (options.seconds + 15) * 1000);
    return parseWrk(raw);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Throws unless `url` points at a loopback address: the suite never sends traffic elsewhere. */
export function assertLoopback(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
    throw new Error(`benchmark traffic goes to loopback only, not ${host}`);
  }
}

function runBounded(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: still running after ${timeoutMs} ms, killed`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} exited with ${code ?? signal}: ${(err || out).trim()}`));
    });
  });
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "812.00us", "1.23ms", "2.00s" → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`not a wrk duration: ${text}`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** Parses wrk's report (with `--latency`, and the MESHLET_WRK line of the done hook if present). */
export function parseWrk(raw: string): WrkResult {
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm').exec(raw);
    if (!match) throw new Error(`wrk report has no ${p}% latency line (was --latency given?):\n${raw}`);
    return parseDuration(match[1] as string);
  };
  const summary = /^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read\s*$/m.exec(raw);
  if (!summary) throw new Error(`wrk report has no summary line:\n${raw}`);
  const requests = Number(summary[1]);
  const seconds = parseDuration(summary[2] as string) / 1000;
  const rpsMatch = /^Requests\/sec:\s+([\d.]+)\s*$/m.exec(raw);
  if (!rpsMatch) throw new Error(`wrk report has no Requests/sec line:\n${raw}`);
  const maxMatch = /^\s*Latency\s+\S+\s+\S+\s+(\S+)/m.exec(raw);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const socketErrors = socket ? socket.slice(1, 5).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xxMatch = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  const non2xx = non2xxMatch ? Number(non2xxMatch[1]) : 0;
  const hook = /^MESHLET_WRK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)\s*$/m.exec(raw);
  const us = (i: number): number => (hook ? Number(hook[i]) / 1000 : Number.NaN);
  return {
    requests,
    seconds,
    rps: Number(rpsMatch[1]),
    p50Ms: percentile('50'),
    p75Ms: percentile('75'),
    p90Ms: percentile('90'),
    p99Ms: percentile('99'),
    p999Ms: us(6),
    maxMs: hook ? us(7) : maxMatch ? parseDuration(maxMatch[1] as string) : Number.NaN,
    errors: socketErrors + non2xx,
    non2xx,
    raw,
  };
}
