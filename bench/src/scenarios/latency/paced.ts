// An open-loop HTTP/1.1 load generator paced at a fixed rate, so a slow response does not
// delay the requests after it (no coordinated omission): each request is due at a time set by
// the schedule alone and its latency is counted from when the scheduler released it, including
// any wait for a free connection; the timer's own lateness is not billed to the target.
//
//   node paced.ts <port> <rate/s> <seconds> [connections]
//
// Prints one JSON line: { sent, completed, errors, seconds, p50Us, p90Us, p99Us, p999Us, maxUs }.
// Raw sockets and a minimal response parser (Content-Length or chunked), so the client costs a
// few µs per request and the same for every target.
import { connect, type Socket } from 'node:net';

const port = Number(process.argv[2]);
const rate = Number(process.argv[3]);
const seconds = Number(process.argv[4]);
const connections = Number(process.argv[5] ?? 16);
if (!(port > 0 && rate > 0 && seconds > 0 && connections > 0)) {
  process.stderr.write('usage: node paced.ts <port> <rate/s> <seconds> [connections]\n');
  process.exit(2);
}

const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
const total = Math.round(rate * seconds);
const latencies = new Float64Array(total);
let completed = 0;
let errors = 0;
let sent = 0;

/** One kept-alive connection with at most one request in flight. */
class Conn {
  readonly socket: Socket;
  readonly onDone: (conn: Conn, ok: boolean) => void;
  busy = false;
  dead = false;
  started = 0;
  private buffer: Buffer = Buffer.alloc(0);

  constructor(onDone: (conn: Conn, ok: boolean) => void, ready: () => void) {
    this.onDone = onDone;
    this.socket = connect({ port, host: '127.0.0.1', noDelay: true }, ready);
    this.socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    this.socket.on('error', () => {
      // 'close' follows
    });
    this.socket.on('close', () => {
      if (this.busy) this.finish(false);
      this.dead = true;
    });
  }

  send(started: number): void {
    this.busy = true;
    this.started = started;
    this.socket.write(REQUEST);
  }

  private finish(ok: boolean): void {
    this.busy = false;
    this.buffer = Buffer.alloc(0);
    this.onDone(this, ok);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = responseEnd(this.buffer);
    if (end === -1) return;
    const ok = this.buffer.subarray(9, 12).toString('latin1') === '200';
    if (end !== this.buffer.length) this.socket.destroy(); // more bytes than one response: a broken peer
    this.finish(ok);
  }
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

const idle: Conn[] = [];
const queue: number[] = [];

function onDone(conn: Conn, ok: boolean): void {
  const now = performance.now();
  if (ok) latencies[completed++] = (now - conn.started) * 1000;
  else errors++;
  if (!conn.dead) {
    const next = queue.shift();
    if (next === undefined) idle.push(conn);
    else conn.send(next);
  }
}

let connected = 0;
const pool: Conn[] = [];
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => {
    reject(new Error(`only ${connected} of ${connections} connections after 5 s`));
  }, 5000);
  for (let i = 0; i < connections; i++) {
    const conn = new Conn(onDone, () => {
      idle.push(conn);
      if (++connected === connections) {
        clearTimeout(timer);
        resolve();
      }
    });
    pool.push(conn);
  }
});

const t0 = performance.now();
const interval = 1000 / rate;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    const now = performance.now();
    // Release every request due by now; each one's clock starts at its release.
    while (sent < total && t0 + sent * interval <= now) {
      sent++;
      const conn = idle.pop();
      if (conn === undefined) queue.push(now);
      else conn.send(now);
    }
    if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now()));
    else resolve();
  };
  tick();
});
// Let the last responses in (bounded: 5 s).
const drainDeadline = performance.now() + 5000;
while (completed + errors < sent && performance.now() < drainDeadline) {
  await new Promise((resolve) => setTimeout(resolve, 5));
}
const elapsed = (performance.now() - t0) / 1000;
for (const conn of pool) conn.socket.destroy();

const sorted = latencies.subarray(0, completed).sort();
const q = (p: number): number =>
  completed === 0
    ? Number.NaN
    : (sorted[Math.min(completed - 1, Math.max(0, Math.ceil(p * completed) - 1))] as number);
process.stdout.write(
  `${JSON.stringify({
    sent,
    completed,
    errors: errors + (sent - completed - errors),
    seconds: elapsed,
    p50Us: q(0.5),
    p90Us: q(0.9),
    p99Us: q(0.99),
    p999Us: q(0.999),
    maxUs: completed === 0 ? Number.NaN : (sorted[completed - 1] as number),
  })}\n`,
);
