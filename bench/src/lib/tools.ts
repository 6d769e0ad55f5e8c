// External tools of the suite (wrk, nginx, haproxy, h2load, taskset): where they are, which
// version, and the rule for a missing one (CI fails, a developer's machine skips loudly).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// Debian installs nginx and haproxy in /usr/sbin, which is not on every user's PATH.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The absolute path of `tool` on the PATH (or in the sbin folders), or undefined. */
export function findTool(tool: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN];
  for (const dir of dirs) {
    if (dir === '') continue;
    const path = join(dir, tool);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The absolute path of `tool`, or an error naming the Debian package that provides it. */
export function toolPath(tool: string): string {
  const path = findTool(tool);
  if (path === undefined) throw new Error(`${tool} is not installed (${installHint(tool)})`);
  return path;
}

const PACKAGES: Readonly<Record<string, string>> = {
  wrk: 'wrk',
  nginx: 'nginx-light',
  haproxy: 'haproxy',
  h2load: 'nghttp2-client',
  taskset: 'util-linux',
};

/** How to install `tool` on Debian. */
export function installHint(tool: string): string {
  return `apt-get install ${PACKAGES[tool] ?? tool}`;
}

/**
 * True when a missing tool must fail the run: in CI (`CI` set to anything but "", "0" or
 * "false"), or with `MESHLET_REQUIRE_BENCH_TOOLS` set likewise (what `.ci/run` sets).
 */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return truthy(env.CI) || truthy(env.MESHLET_REQUIRE_BENCH_TOOLS);
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * The `need` of a BenchContext: true when `tool` is installed; when it is not, throws in CI and
 * otherwise logs a loud skip and returns false.
 */
export function makeNeed(log: (line: string) => void, ci: boolean = inCi()): (tool: string) => boolean {
  const said = new Set<string>();
  return (tool: string): boolean => {
    if (findTool(tool) !== undefined) return true;
    const message = `${tool} is not installed (${installHint(tool)})`;
    if (ci) throw new Error(`${message}: CI must run every benchmark target`);
    if (!said.has(tool)) {
      said.add(tool);
      log(`SKIPPING every target that needs ${tool}: ${message}. CI fails here instead.`);
    }
    return false;
  };
}

/** The first line a tool prints for its version flag (`nginx -v` prints on stderr), or "?". */
export function toolVersion(tool: string, args: readonly string[] = ['-v']): string {
  const path = findTool(tool);
  if (path === undefined) return 'not installed';
  const result = spawnSync(path, args, { encoding: 'utf8', timeout: 5000 });
  const text = `${result.stdout}\n${result.stderr}`.trim();
  return text.split('\n')[0]?.trim() ?? '?';
}
