// Small helpers shared by the scripts behind `npm test` and `npm start`: run a command in the
// foreground, say what it is before it starts, and time it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT: string = fileURLToPath(new URL('..', import.meta.url));

/** The Node and pnpm that scripts/meshlet.cjs chose; sensible fallbacks when run by hand. */
export const NODE: string = process.env.MESHLET_NODE ?? process.execPath;
const PNPM_CLI = process.env.MESHLET_PNPM;

export interface StepResult {
  readonly title: string;
  readonly ok: boolean;
  readonly seconds: number;
}

/** Prints one line to say what meshlet is doing. */
export function say(line: string): void {
  process.stdout.write(`meshlet: ${line}\n`);
}

/** The command line that runs pnpm with `args`. */
export function pnpm(...args: string[]): string[] {
  return PNPM_CLI ? [NODE, PNPM_CLI, ...args] : ['pnpm', ...args];
}

/** The command line that runs a script of the repo (TypeScript, type-stripped by Node). */
export function script(path: string, ...args: string[]): string[] {
  return [NODE, fileURLToPath(new URL(`../${path}`, import.meta.url)), ...args];
}

/** Runs `argv` in the repo root with inherited stdio, after a heading naming the step. */
export function step(title: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}): StepResult {
  const [command = '', ...args] = argv;
  process.stdout.write(`\n── ${title} ─ ${argv.map(shortPath).join(' ')}\n`);
  const started = performance.now();
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  const seconds = (performance.now() - started) / 1000;
  const ok = result.status === 0;
  if (result.error) process.stderr.write(`meshlet: could not run ${command}: ${result.error.message}\n`);
  process.stdout.write(`── ${title}: ${ok ? 'ok' : 'FAILED'} in ${seconds.toFixed(1)} s\n`);
  return { title, ok, seconds };
}

function shortPath(arg: string): string {
  if (arg === NODE) return 'node';
  if (arg === PNPM_CLI) return 'pnpm';
  return arg.startsWith(ROOT) ? arg.slice(ROOT.length) : arg;
}
