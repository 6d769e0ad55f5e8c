// An open-loop HTTP/1.1 load generator paced at a fixed rate, so a slow response does not
// delay the requests after it (no coordinated omission): each request is due at a time set by
// the schedule alone and its latency is counted from when the scheduler released it, including
// any wait for a free connection; the timer's own lateness is not billed to the target.
//
//   node paced.ts <port[,port...]> <rate/s> <seconds> [connections] [warm-up seconds]
//
// Measures each port in turn (after its warm-up, not recorded) and prints one JSON line per
// port: { port, sent, completed, errors, seconds, p50Us, p90Us, p99Us, p999Us, maxUs }. Raw
// sockets and a minimal response parser (Content-Length or chunked), so the client costs a few
// µs per request and the same for every target.
import { connect, type Socket } from 'node:net';

const ports = (process.argv[2] ?? '').split(',').map(Number);
const rate = Number(process.argv[3]);
const seconds = Number(process.argv[4]);
const connections = Number(process.argv[5] ?? 16);
const warmupSeconds = Number(process.argv[6] ?? 0);
if (!(ports.every((p) => p > 0) && rate > 0 && seconds > 0 && connections > 0 && warmupSeconds >= 0)) {
  process.stderr.write(
    'usage: node paced.ts <port[,port...]> <rate/s> <seconds> [connections] [warm-up seconds]\n',
  );
  process.exit(2);
}

/** The length of the first complete response in `buf`, or -1 if incomplete. */
function responseEnd(buf: Buffer): number {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd === -1) return -1;
  const head = buf.subarray(0, headEnd).toString('latin1').toLowerCase();
  const bodyStart = headEnd + 4;
  const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
  if (length) {
    const end = bodyStart + Number(length[1]);
    return buf.length >= end ? end : -1;
  }
  if (/\r\ntransfer-encoding:[^\r]*chunked/.test(head)) {
    let at = bodyStart;
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd === -1) return -1;
      const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) {
        const end = lineEnd + 4; // no trailers from our upstream
        return buf.length >= end ? end : -1;
      }
      at = lineEnd + 2 + size + 2;
      if (at > buf.length) return -1;
    }
  }
  return bodyStart; // no body (204, 304)
}

/** One kept-alive connection with at most one request in flight. */
class Conn {
  readonly socket: Socket;
  readonly run: Run;
  busy = false;
  dead = false;
  started = 0;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(run: Run, ready: () => void) {
    this.run = run;
    this.socket = connect({ port: run.port, host: '127.0.0.1', noDelay: true }, ready);
    this.socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    this.socket.on('error', () => {
      // 'close' follows
    });
    this.socket.on('close', () => {
      this.dead = true;
      if (this.busy) this.finish(false);
    });
  }

  send(started: number): void {
    this.busy = true;
    this.started = started;
    this.socket.write(this.run.request);
  }

  private finish(ok: boolean): void {
    this.busy = false;
    this.buffer = Buffer.alloc(0);
    this.run.done(this, ok);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = responseEnd(this.buffer);
    if (end === -1) return;
    const ok = this.buffer.subarray(9, 12).toString('latin1') === '200';
    if (end !== this.buffer.length) this.socket.destroy(); // more than one response: a broken peer
    this.finish(ok);
  }
}

/** One paced run against one port. */
class Run {
  readonly port: number;
  readonly request: Buffer;
  readonly total: number;
  readonly latencies: Float64Array;
  completed = 0;
  errors = 0;
  sent = 0;
  private readonly idle: Conn[] = [];
  private readonly queue: number[] = [];
  private readonly pool: Conn[] = [];

  constructor(port: number, seconds: number) {
    this.port = port;
    this.request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    this.total = Math.round(rate * seconds);
    this.latencies = new Float64Array(this.total);
  }

  done(conn: Conn, ok: boolean): void {
    const now = performance.now();
    if (ok) this.latencies[this.completed++] = (now - conn.started) * 1000;
    else this.errors++;
    if (!conn.dead) {
      const next = this.queue.shift();
      if (next === undefined) this.idle.push(conn);
      else conn.send(next);
    }
  }

  async connect(): Promise<void> {
    let connected = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`port ${this.port}: only ${connected} of ${connections} connections after 5 s`));
      }, 5000);
      for (let i = 0; i < connections; i++) {
        const conn = new Conn(this, () => {
          this.idle.push(conn);
          if (++connected === connections) {
            clearTimeout(timer);
            resolve();
          }
        });
        this.pool.push(conn);
      }
    });
  }

  async pace(): Promise<number> {
    const t0 = performance.now();
    const interval = 1000 / rate;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        // Release every request due by now; each one's clock starts at its release.
        while (this.sent < this.total && t0 + this.sent * interval <= now) {
          this.sent++;
          const conn = this.idle.pop();
          if (conn === undefined) this.queue.push(now);
          else conn.send(now);
        }
        if (this.sent < this.total)
          setTimeout(tick, Math.max(0, t0 + this.sent * interval - performance.now()));
        else resolve();
      };
      tick();
    });
    // Let the last responses in (bounded: 5 s).
    const drainDeadline = performance.now() + 5000;
    while (this.completed + this.errors < this.sent && performance.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const elapsed = (performance.now() - t0) / 1000;
    for (const conn of this.pool) conn.socket.destroy();
    return elapsed;
  }
}

for (const port of ports) {
  if (warmupSeconds > 0) {
    const warm = new Run(port, warmupSeconds);
    await warm.connect();
    await warm.pace();
  }
  const run = new Run(port, seconds);
  await run.connect();
  const elapsed = await run.pace();
  const n = run.completed;
  const sorted = run.latencies.subarray(0, n).sort();
  const q = (p: number): number =>
    n === 0 ? Number.NaN : (sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))] as number);
  process.stdout.write(
    `${JSON.stringify({
      port,
      sent: run.sent,
      completed: n,
      // Failed responses, and requests still unanswered at the end.
      errors: run.sent - n,
      seconds: elapsed,
      p50Us: q(0.5),
      p90Us: q(0.9),
      p99Us: q(0.99),
      p999Us: q(0.999),
      maxUs: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    })}\n`,
  );
}
