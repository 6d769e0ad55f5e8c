// The CLI's log lines: to stderr, each prefixed with who wrote it (the primary or a worker's pid).
import cluster from 'node:cluster';

/** Writes one log line to stderr: `meshlet[<pid>]: <line>` (`worker <pid>` in a worker). */
export function log(line: string): void {
  const who = cluster.isWorker ? `meshlet worker ${process.pid}` : `meshlet[${process.pid}]`;
  process.stderr.write(`${who}: ${line}\n`);
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
