// Opens <count> kept-alive connections to 127.0.0.1:<port>, sends one GET on each and reads its
// response (at most <concurrency> in progress at once), then holds them all idle. Prints one
// JSON line { open, failed } once all are idle; when its stdin ends, prints { stillOpen } (how
// many the target had not closed meanwhile), closes them and exits.
//
//   node hold.ts <port> <count> [concurrency]
import { connect, type Socket } from 'node:net';

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const concurrency = Number(process.argv[4] ?? 100);
if (!(port > 0 && count > 0 && concurrency > 0)) {
  process.stderr.write('usage: node hold.ts <port> <count> [concurrency]\n');
  process.exit(2);
}

const REQUEST = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
const held: Socket[] = [];
let open = 0;
let failed = 0;
let closed = 0;
let next = 0;

/** Connects, sends one request, resolves true once a full response head and body arrived. */
function one(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let got = '';
    let settled = false;
    let kept = false;
    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      kept = ok;
      if (ok) held.push(socket);
      else socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => {
      settle(false);
    }, 10_000);
    socket.once('connect', () => socket.write(REQUEST));
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      got += chunk;
      const headEnd = got.indexOf('\r\n\r\n');
      if (headEnd === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(got.slice(0, headEnd));
      const complete = length ? got.length >= headEnd + 4 + Number(length[1]) : got.endsWith('0\r\n\r\n');
      if (complete) settle(got.startsWith('HTTP/1.1 200'));
    });
    socket.on('error', () => {
      settle(false);
    });
    socket.on('close', () => {
      if (kept) closed++;
      settle(false);
    });
  });
}

async function worker(): Promise<void> {
  while (next < count) {
    next++;
    if (await one()) open++;
    else failed++;
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(`${JSON.stringify({ open, failed })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  process.stdout.write(`${JSON.stringify({ stillOpen: open - closed })}\n`);
  for (const socket of held) socket.destroy();
  process.exit(0);
});
