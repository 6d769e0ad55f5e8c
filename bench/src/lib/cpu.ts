// CPU placement. These machines have 2 cores shared by the load generator, the proxy under test
// and the upstream, so each gets a fixed place: the target (proxy, or the app under test) alone on
// one core, the load generator and the upstream together on the other. Every target then has
// the same single core, the way a sidecar with one worker would; the load generator and the
// upstream (nginx, a few µs per request) share the rest. Override with MESHLET_BENCH_TARGET_CPUS
// and MESHLET_BENCH_LOAD_CPUS (taskset lists, e.g. "2" and "3"); with one core, or without
// taskset, nothing is pinned and the notes say so.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { findTool } from './tools.ts';

/** Where the processes of a run go; a `cpus` of undefined means "not pinned". */
export interface CpuPlacement {
  /** The proxy / target under test. */
  readonly target: string | undefined;
  /** The load generator and the upstream. */
  readonly load: string | undefined;
  /** One sentence for the notes under each table. */
  readonly description: string;
}

/** The placement for this machine (see the file's header). */
export function cpuPlacement(env: NodeJS.ProcessEnv = process.env): CpuPlacement {
  const taskset = findTool('taskset');
  const target = env.MESHLET_BENCH_TARGET_CPUS;
  const load = env.MESHLET_BENCH_LOAD_CPUS;
  if (taskset === undefined) {
    return {
      target: undefined,
      load: undefined,
      description: 'not pinned: taskset is not installed (apt-get install util-linux)',
    };
  }
  if (target !== undefined && load !== undefined) {
    return {
      target,
      load,
      description: `target on CPU ${target}; load generator and upstream on CPU ${load} (taskset, from MESHLET_BENCH_*_CPUS)`,
    };
  }
  if (availableParallelism() < 2) {
    return { target: undefined, load: undefined, description: 'not pinned: one core only' };
  }
  return {
    target: '0',
    load: '1',
    description: 'target alone on CPU 0; load generator and upstream together on CPU 1 (taskset -c)',
  };
}

/** `command args` run on `cpus` (through taskset, which execs: the pid stays the command's). */
export function pinned(
  cpus: string | undefined,
  command: string,
  args: readonly string[],
): { command: string; args: string[] } {
  const taskset = cpus === undefined ? undefined : findTool('taskset');
  if (cpus === undefined || taskset === undefined) return { command, args: [...args] };
  return { command: taskset, args: ['-c', cpus, command, ...args] };
}

/**
 * Moves running processes, every thread of each, to `cpus` (`taskset -a -p`): targets start on
 * any core (loading code is most of a start) and are pinned once they listen, before any load.
 */
export function pinProcesses(cpus: string | undefined, pids: readonly number[]): void {
  const taskset = cpus === undefined ? undefined : findTool('taskset');
  if (cpus === undefined || taskset === undefined) return;
  for (const pid of pids) {
    const result = spawnSync(taskset, ['-a', '-p', '-c', cpus, String(pid)], {
      encoding: 'utf8',
      timeout: 5000,
    });
    if (result.status !== 0)
      throw new Error(`taskset -a -p -c ${cpus} ${pid} failed: ${result.stderr.trim()}`);
  }
}
