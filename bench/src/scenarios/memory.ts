// Memory: each target's RSS idle (after a short warm-up), then with N idle kept-alive client
// connections (10,000 in a full run), each of which has carried one request; the difference per
// connection is what an idle connection costs. The connections are held by memory/hold.ts, a
// process of its own on the load CPU.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { Client } from 'undici';
import { fileURLToPath } from 'node:url';
import {
  cpuPlacement,
  fmt,
  freePort,
  pinned,
  processTree,
  rssKiBOf,
  startUpstream,
  type Target,
} from '../lib/index.ts';
import type { BenchContext, BenchRow, BenchScenario, BenchTable } from '../types.ts';
import { MESHLET_LABEL, PEER_KEYS, type RunningPeer, startPeers, stopPeers } from './http1/peers.ts';

const HOLD = fileURLToPath(new URL('./memory/hold.ts', import.meta.url));
const CONNECTIONS = { smoke: 50, quick: 2000, full: 10_000 } as const;
/** Pauses before each RSS reading (settle), shorter in smoke runs. */
const SETTLE_MS = { smoke: 50, quick: 500, full: 1000 } as const;

interface Memory {
  /** All processes of the target, KiB. */
  readonly total: number;
  /** Its largest process (nginx's or meshlet's worker), KiB. */
  readonly largest: number;
}

function memoryOf(target: Target): Memory {
  let total = 0;
  let largest = 0;
  for (const pid of processTree(target.pid)) {
    const rss = rssKiBOf(pid);
    total += rss;
    largest = Math.max(largest, rss);
  }
  return { total, largest };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads the next JSON line `hold.ts` prints, bounded by `timeoutMs`. */
function nextLine(
  child: ChildProcessByStdio<Writable, Readable, Readable>,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: string): void => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end === -1) return;
      cleanup();
      try {
        resolve(JSON.parse(text.slice(0, end)));
      } catch (error) {
        reject(new Error(`hold.ts printed ${text}`, { cause: error }));
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`hold.ts exited with ${code} before answering`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`hold.ts did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/** `count` GETs one after another on one kept-alive connection; throws on a non-200. */
async function warm(port: number, count: number): Promise<void> {
  const client = new Client(`http://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < count; i++) {
      const res = await client.request({ method: 'GET', path: '/' });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`warm-up: status ${res.statusCode} from port ${port}`);
    }
  } finally {
    await client.close();
  }
}

interface Measured {
  readonly idle: Memory;
  readonly loaded: Memory;
  readonly open: number;
  readonly failed: number;
  readonly stillOpen: number;
}

async function measure(
  peer: RunningPeer,
  target: Target,
  count: number,
  cpus: string | undefined,
  settleMs: number,
): Promise<Measured> {
  // Warm the request path a little (200 requests, from this process), then let it settle.
  await warm(peer.port, 200);
  await delay(settleMs);
  const idle = memoryOf(target);
  const { command, args } = pinned(cpus, process.execPath, [HOLD, String(peer.port), String(count), '100']);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8');
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  try {
    const { open, failed } = (await nextLine(child, 180_000)) as { open: number; failed: number };
    await delay(settleMs);
    const loaded = memoryOf(target);
    const done = nextLine(child, 10_000);
    child.stdin.end();
    const { stillOpen } = (await done) as { stillOpen: number };
    return { idle, loaded, open, failed, stillOpen };
  } catch (error) {
    throw new Error(`${peer.label}: ${(error as Error).message} ${stderr.trim()}`, { cause: error });
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

async function run(ctx: BenchContext): Promise<readonly BenchTable[]> {
  if (!ctx.need('nginx')) return [];
  const placement = cpuPlacement();
  const count = CONNECTIONS[ctx.mode];
  const upstreamPort = await freePort();
  const upstream = await startUpstream(upstreamPort, placement.load);
  const rows: BenchRow[] = [];
  let peers: RunningPeer[] = [];
  let skipped: readonly string[];
  try {
    // All started at once (each is idle until its turn); measured one at a time.
    const started = await startPeers(
      ctx,
      upstreamPort,
      placement.target,
      PEER_KEYS.filter((key) => key !== 'direct'),
    );
    peers = started.peers;
    skipped = started.skipped;
    for (const peer of peers) {
      if (peer.target === undefined) continue;
      const m = await measure(peer, peer.target, count, placement.load, SETTLE_MS[ctx.mode]);
      const perConnection = m.open > 0 ? (m.loaded.total - m.idle.total) / m.open : Number.NaN;
      ctx.log(
        `memory: ${peer.label}: idle ${fmt(m.idle.total / 1024)} MiB, with ${m.open} connections ${fmt(m.loaded.total / 1024)} MiB (${fmt(perConnection)} KiB each)`,
      );
      rows.push({
        target: peer.label,
        rssMiB: m.idle.total / 1024,
        errors: m.failed,
        extra: {
          'idle RSS, largest process': `${fmt(m.idle.largest / 1024)} MiB`,
          'RSS with the connections': `${fmt(m.loaded.total / 1024)} MiB`,
          'connections held': `${m.open} (${m.stillOpen} at the end)`,
          'KiB per idle connection': fmt(perConnection),
        },
      });
    }
  } finally {
    await stopPeers(peers);
    await upstream.stop();
  }
  return [
    {
      title: `Memory: RSS idle and with ${count.toLocaleString('en-US')} idle connections`,
      command: `npm run bench -- memory${ctx.mode === 'full' ? '' : ` --${ctx.mode}`}`,
      rows,
      ratioTo: MESHLET_LABEL,
      notes: [
        'RSS: the sum over all the target\'s processes (meshlet: the CLI supervisor and its worker; nginx: master and worker), from /proc/<pid>/status; pages shared between them count in each. "largest process": the worker alone.',
        `Idle: after 200 requests (one connection, closed) and ${SETTLE_MS[ctx.mode]} ms of rest. Then memory/hold.ts opens the connections (100 at a time), sends one GET on each, reads the response and holds them idle; RSS is read ${SETTLE_MS[ctx.mode]} ms after the last one. KiB per idle connection = (RSS with − RSS idle) / connections held. errors: connections that got no 200 response within 10 s.`,
        'HAProxy is configured with maxconn 9940: it needs 2 file descriptors per connection and the hard limit here is 20,000.',
        `CPU placement: ${placement.description}.`,
        ...skipped.map((s) => `Skipped: ${s}.`),
      ],
    },
  ];
}

const scenario: BenchScenario = {
  name: 'memory',
  description:
    'RSS idle and with 10,000 idle kept-alive connections (KiB per connection): meshlet vs the peers',
  run,
};
export default scenario;
