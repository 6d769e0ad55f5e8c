// h2load (nghttp2-client) as the HTTP/2 load generator: a process of its own, pinned where the
// runner's CPU placement puts load generators. Its summary gives the counts and requests/s of
// the run; its per-request log (`--log-file`: start time, status, µs to the end of the response)
// gives the latency percentiles, which its summary does not print.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertLoopback, pinned, quantile, toolPath } from '../../lib/index.ts';

export interface H2loadOptions {
  readonly url: string;
  readonly seconds: number;
  /** Connections (`-c`). */
  readonly connections: number;
  /** Streams in flight per connection (`-m`). */
  readonly streams: number;
  readonly cpus: string | undefined;
}

export interface H2loadResult {
  readonly rps: number;
  readonly requests: number;
  /** Failed, errored, timed-out and non-2xx requests. */
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

/** `h2load -t1 -c<c> -m<m> -D<s> --log-file <tmp> <url>` (h2c with prior knowledge for http://). */
export async function runH2load(options: H2loadOptions): Promise<H2loadResult> {
  assertLoopback(options.url);
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-h2load-'));
  const log = join(dir, 'requests.tsv');
  try {
    const { command, args } = pinned(options.cpus, toolPath('h2load'), [
      '-t1',
      `-c${options.connections}`,
      `-m${options.streams}`,
      `-D${options.seconds}`,
      '--log-file',
      log,
      options.url,
    ]);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        command,
        args,
        { timeout: options.seconds * 1000 + 30_000, maxBuffer: 1 << 20 },
        (error, out, err) => {
          if (error) reject(new Error(`h2load failed: ${error.message}\n${out}\n${err}`));
          else resolve(out);
        },
      );
    });
    return parseH2load(stdout, readFileSync(log, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads h2load's summary and its per-request log. */
export function parseH2load(stdout: string, log: string): H2loadResult {
  const rps = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout);
  const counts =
    /requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      stdout,
    );
  const codes = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  if (rps === null || counts === null || codes === null)
    throw new Error(`unexpected h2load output:\n${stdout}`);
  const n = (m: RegExpExecArray, i: number): number => Number(m[i]);
  const micros: number[] = [];
  for (const line of log.split('\n')) {
    const duration = line.split('\t')[2];
    if (duration !== undefined) micros.push(Number(duration));
  }
  const sorted = Float64Array.from(micros).sort();
  return {
    rps: Number(rps[1]),
    requests: n(counts, 1),
    errors: n(counts, 2) + n(counts, 3) + n(counts, 4) + n(codes, 1) + n(codes, 2) + n(codes, 3),
    p50Ms: quantile(sorted, 0.5) / 1000,
    p99Ms: quantile(sorted, 0.99) / 1000,
    p999Ms: quantile(sorted, 0.999) / 1000,
  };
}
