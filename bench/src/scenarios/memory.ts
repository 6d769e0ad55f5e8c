// Memory: each target's RSS idle (after a short warm-up), then with N idle kept-alive client
// connections (10,000 in a full run), each of which has carried one request; the difference per
// connection is what an idle connection costs. The connections are held by memory/hold.ts, a
// process of its own on the load CPU.
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
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
import { runPaced } from './latency.ts';

const HOLD = fileURLToPath(new URL('./memory/hold.ts', import.meta.url));
const CONNECTIONS = { smoke: 200, quick: 2000, full: 10_000 } as const;

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
): Promise<Measured> {
  // Warm the request path a little (200 requests), then let it settle.
  await runPaced(peer.port, 0.2, cpus);
  await delay(500);
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
    await delay(1000);
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
  const skipped: string[] = [];
  try {
    // One target at a time: each gets the machine's memory and file descriptors to itself.
    for (const key of PEER_KEYS) {
      if (key === 'direct') continue;
      let peers: RunningPeer[] = [];
      try {
        const started = await startPeers(ctx, upstreamPort, placement.target, [key]);
        peers = started.peers;
        skipped.push(...started.skipped);
        const peer = peers[0];
        if (peer?.target === undefined) continue;
        const m = await measure(peer, peer.target, count, placement.load);
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
            [`RSS with the connections`]: `${fmt(m.loaded.total / 1024)} MiB`,
            'connections held': `${m.open} (${m.stillOpen} at the end)`,
            'KiB per idle connection': fmt(perConnection),
          },
        });
      } finally {
        await stopPeers(peers);
      }
    }
  } finally {
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
        'Idle: after 200 requests at 1000/s and 0.5 s of rest. Then memory/hold.ts opens the connections (100 at a time), sends one GET on each, reads the response and holds them idle; RSS is read 1 s after the last one. KiB per idle connection = (RSS with − RSS idle) / connections held. errors: connections that got no 200 response within 10 s.',
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
