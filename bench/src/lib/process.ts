// Target processes: start one (pinned to its CPUs), wait until it accepts connections, measure
// its memory, stop it and check that nothing of it is left. Every process is started in its own
// process group, so that stopping it also stops what it forked (nginx's worker, meshlet's
// workers); every process started is tracked, so the runner can stop them all on a failure or
// Ctrl-C.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { pinned, pinProcesses } from './cpu.ts';

/** How to start a target. */
export interface TargetSpec {
  /** For logs and errors, e.g. "nginx upstream". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /**
   * taskset CPU list, or undefined for no pinning. A target with a `port` starts on any CPU and
   * is pinned (all its processes and threads) once it listens; one without, from the start.
   */
  readonly cpus?: string | undefined;
  /** Loopback port the target listens on once ready (waited for), if any. */
  readonly port?: number | undefined;
  readonly cwd?: string | undefined;
  /** Added to the runner's environment. */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** How long it may take to accept connections (default 15 s). */
  readonly readyTimeoutMs?: number | undefined;
}

/** A started target process (group). */
export interface Target {
  readonly name: string;
  readonly pid: number;
  readonly port: number | undefined;
  /** The last few KiB of its stdout and stderr, for error messages. */
  output(): string;
  /** Resident set size of the process and all its descendants, in KiB (0 once gone). */
  rssKiB(): number;
  /** SIGTERM to the group, SIGKILL after `graceMs` (default 5 s); resolves once all are gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Target>();

/** Every target started and not yet stopped. */
export function liveTargets(): readonly Target[] {
  return [...live];
}

/** Stops every live target (the runner's cleanup on failure or a signal). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((target) => target.stop(2000)));
}

const OUTPUT_LIMIT = 8192;

/** Starts `spec` and resolves once it accepts connections on its port (if it has one). */
export async function startTarget(spec: TargetSpec): Promise<Target> {
  const { command, args } = spec.port === undefined ? pinned(spec.cpus, spec.command, spec.args) : spec;
  const child = spawn(command, args, {
    cwd: spec.cwd,
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.once('error', (error) => {
      keep(Buffer.from(`\nspawn failed: ${error.message}\n`));
      resolve();
    });
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exited;
    throw new Error(`${spec.name}: could not start ${spec.command}: ${output.trim()}`);
  }
  const target = makeTarget(spec, child, pid, exited, () => output);
  live.add(target);
  if (spec.port !== undefined) {
    try {
      const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
      await waitForPort(spec.port, spec.readyTimeoutMs ?? 15_000, gone);
      // Another process may have taken the port between freePort() and the target's bind.
      if (gone()) throw new Error(`exited right after port ${spec.port} answered (someone else's port?)`);
      pinProcesses(spec.cpus, processTree(pid));
    } catch (error) {
      await target.stop(1000);
      throw new Error(`${spec.name}: ${(error as Error).message}\n--- its output ---\n${output.trim()}`, {
        cause: error,
      });
    }
  }
  return target;
}

function makeTarget(
  spec: TargetSpec,
  child: ChildProcess,
  pid: number,
  exited: Promise<void>,
  output: () => string,
): Target {
  let stopping: Promise<void> | undefined;
  const stop = async (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      signalGroup(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      // The group leader's exit is an event; its descendants are polled (they are not our
      // children, so there is no exit event for them).
      while (
        Date.now() < deadline &&
        (groupMembers(pid).length > 0 || (child.exitCode === null && child.signalCode === null))
      ) {
        await delay(20);
      }
      if (groupMembers(pid).length > 0) {
        signalGroup(pid, 'SIGKILL');
        await exited;
        const killDeadline = Date.now() + 2000;
        while (Date.now() < killDeadline && groupMembers(pid).length > 0) await delay(20);
      }
      await exited;
      live.delete(target);
      const left = groupMembers(pid);
      if (left.length > 0)
        throw new Error(`${spec.name}: processes ${left.join(', ')} still running after SIGKILL`);
    })();
    return stopping;
  };
  const target: Target = {
    name: spec.name,
    pid,
    port: spec.port,
    output,
    rssKiB: () => treeRssKiB(pid),
    stop,
  };
  return target;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once a TCP connection to 127.0.0.1:`port` succeeds; rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  timeoutMs = 15_000,
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(port)) return;
    if (gaveUp()) throw new Error(`exited before listening on port ${port}`);
    if (Date.now() > deadline) throw new Error(`not listening on port ${port} after ${timeoutMs} ms`);
    await delay(25);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A loopback port free right now (the OS picks it; a target binds it moments later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly pgrp: number;
  readonly state: string;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses; it ends at the last ")".
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== undefined) stats.push(stat);
  }
  return stats;
}

/** Pids of the live (not zombie) processes of group `pgid`. */
export function groupMembers(pgid: number): number[] {
  return allStats()
    .filter((s) => s.pgrp === pgid && s.state !== 'Z')
    .map((s) => s.pid);
}

/** `pid` and all its descendants (from /proc's parent links). */
export function processTree(pid: number): number[] {
  const stats = allStats();
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s.pid]);
    else list.push(s.pid);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.pop() as number;
    if (readStat(next) === undefined) continue;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** VmRSS of one process from /proc/<pid>/status, in KiB (0 when gone). */
export function rssKiBOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * RSS of `pid` and all its descendants, in KiB. Pages shared between them (a forked nginx
 * worker's, the code of a Node binary) are counted once per process, as `ps` and `top` do.
 */
export function treeRssKiB(pid: number): number {
  let total = 0;
  for (const member of processTree(pid)) total += rssKiBOf(member);
  return total;
}
