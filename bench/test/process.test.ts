import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { findTool } from '../src/lib/tools.ts';
import {
  freePort,
  groupMembers,
  liveTargets,
  processTree,
  rssKiBOf,
  startTarget,
  stopAll,
  treeRssKiB,
} from '../src/lib/process.ts';

// A target that forks a child (as nginx and meshlet's CLI do) before it listens; `stubborn`
// makes the child ignore SIGTERM, so only the SIGKILL after the grace period ends it.
function forkingTarget(port: number, stubborn: boolean): string {
  const child = stubborn
    ? "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"
    : 'setInterval(() => {}, 1000)';
  return `
const { spawn } = require('node:child_process');
const net = require('node:net');
const child = spawn(process.execPath, ['-e', ${JSON.stringify(child)}], { stdio: 'ignore' });
child.once('spawn', () => net.createServer().listen(${port}, '127.0.0.1'));
`;
}

afterEach(async () => {
  await stopAll();
});

describe('startTarget / stop', () => {
  it('waits for the port, sees the whole process tree and its RSS, and leaves nothing behind', async () => {
    const port = await freePort();
    const target = await startTarget({
      name: 'forking',
      command: process.execPath,
      args: ['-e', forkingTarget(port, false)],
      port,
    });
    const tree = processTree(target.pid);
    expect(tree).toHaveLength(2);
    expect(tree[0]).toBe(target.pid);
    expect(groupMembers(target.pid).sort()).toEqual([...tree].sort());
    // Both processes are Node: the tree's RSS is well over the leader's alone (RSS moves, so
    // no equality).
    expect(treeRssKiB(target.pid)).toBeGreaterThan(rssKiBOf(target.pid) + rssKiBOf(tree[1] as number) / 2);
    expect(target.rssKiB()).toBeGreaterThan(rssKiBOf(target.pid));
    expect(liveTargets()).toContain(target);

    await target.stop();
    expect(groupMembers(target.pid)).toEqual([]);
    expect(target.rssKiB()).toBe(0);
    expect(liveTargets()).not.toContain(target);
  });

  it.skipIf(findTool('taskset') === undefined)(
    'pins every process and thread of a target once it listens',
    async () => {
      const port = await freePort();
      const target = await startTarget({
        name: 'pinned',
        command: process.execPath,
        args: ['-e', forkingTarget(port, false)],
        port,
        cpus: '0',
      });
      const tree = processTree(target.pid);
      expect(tree).toHaveLength(2);
      for (const pid of tree) {
        for (const tid of readdirSync(`/proc/${pid}/task`)) {
          const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
          expect(/^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1]).toBe('0');
        }
      }
      await target.stop();
    },
  );

  it('kills a process that ignores SIGTERM once the grace period is over', async () => {
    const port = await freePort();
    const target = await startTarget({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', forkingTarget(port, true)],
      port,
    });
    const [, child] = processTree(target.pid);
    expect(child).toBeDefined();
    await target.stop(200);
    expect(groupMembers(target.pid)).toEqual([]);
    expect(rssKiBOf(child as number)).toBe(0);
  });

  it('fails with the output of a target that exits before listening', async () => {
    const port = await freePort();
    await expect(
      startTarget({
        name: 'broken',
        command: process.execPath,
        args: ['-e', "console.error('bad config'); process.exit(3)"],
        port,
      }),
    ).rejects.toThrow(/broken: exited before listening[\s\S]*bad config/);
    expect(liveTargets()).toEqual([]);
  });

  it('fails when the command does not exist', async () => {
    await expect(startTarget({ name: 'nothing', command: '/nonexistent/tool', args: [] })).rejects.toThrow(
      /nothing: could not start/,
    );
  });
});
