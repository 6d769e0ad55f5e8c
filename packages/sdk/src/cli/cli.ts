// The `meshlet` command in the primary process: argument parsing and supervising the workers
// (no data-plane logic here). The primary stays lean: it never loads @meshlet/proxy, @meshlet/xds
// or their dependencies for `run` (the workers check and serve the config, see worker.ts); only
// `validate` and `demo` load them, lazily.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { log, messageOf } from './log.js';
import { InvalidConfig, Supervisor, type WorkerReady, type WorkerSpec } from './supervisor.js';

/** Exit codes: 0 done, 1 failed (a bad config, a failed start), 2 a usage error. */
const USAGE_ERROR = 2;

const USAGE = `usage: meshlet <command> [options]

commands:
  run -c <bootstrap.yaml>    run the listeners and the admin server of an Envoy bootstrap
                             (static resources, or ADS from dynamic_resources.ads_config)
  validate <bootstrap.yaml>  check a bootstrap: every error with its field path; exit 1 if any
  demo                       a demo gateway in front of three loopback services, with the admin
                             server; prints what to try and serves until stopped
  reload <pid> | --pid-file <file>
                             lossless restart of a running \`meshlet run\` / \`meshlet demo\` (SIGHUP)

options of run and demo:
  --workers <n>              worker processes sharing the listening ports (default 1)
  --drain-time-s <s>         how long old workers finish requests on restart/stop (default 10)
  --pid-file <file>          write the primary's pid there (for \`meshlet reload\`)
options of demo:
  --port <p>, --admin-port <p>   default 8080 and 9901 (env PORT, ADMIN_PORT)
  --smoke                    start, take the tour, stop

SIGHUP restarts the workers without losing a request (config files are read again);
SIGINT/SIGTERM drain and exit.`;

class UsageError extends Error {}

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError(`${name} must be an integer >= ${min}, not ${value}`);
  return n;
}

const SERVE_OPTIONS = {
  workers: { type: 'string' },
  'drain-time-s': { type: 'string' },
  'pid-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Runs the `meshlet` command with `argv` (without `node` and the script). Resolves with the exit
 * code when the command is over, or `undefined` when it keeps serving (run, demo).
 */
export async function runCli(argv: readonly string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return await validateCommand(rest);
      case 'run':
        return await runCommand(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'reload':
        return reloadCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? USAGE_ERROR : 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true
    ) {
      process.stderr.write(`meshlet: ${messageOf(error)}\n\n${USAGE}\n`);
      return USAGE_ERROR;
    }
    throw error;
  }
}

async function validateCommand(args: readonly string[]): Promise<number> {
  const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
  if (positionals.length === 0) throw new UsageError('validate needs a bootstrap file');
  const { validateFile } = await import('./validate.js');
  let bad = 0;
  for (const file of positionals) {
    const report = await validateFile(file);
    for (const warning of report.warnings) process.stdout.write(`${file}: warning: ${warning}\n`);
    for (const error of report.errors) process.stdout.write(`${file}: error: ${error}\n`);
    if (report.errors.length > 0) {
      bad++;
      process.stdout.write(
        `${file}: invalid (${report.errors.length} error${report.errors.length > 1 ? 's' : ''})\n`,
      );
    } else {
      process.stdout.write(
        `${file}: valid${report.warnings.length > 0 ? ` (${report.warnings.length} warnings)` : ''}\n`,
      );
    }
  }
  return bad > 0 ? 1 : 0;
}

interface ServeFlags {
  readonly workers: number;
  readonly drainMs: number;
  readonly pidFile: string | undefined;
}

function serveFlags(values: { workers?: string; 'drain-time-s'?: string; 'pid-file'?: string }): ServeFlags {
  return {
    workers: positiveInt('--workers', values.workers, 1),
    drainMs: positiveInt('--drain-time-s', values['drain-time-s'], 10, 0) * 1000,
    pidFile: values['pid-file'],
  };
}

/** Runs the supervisor until SIGINT/SIGTERM; SIGHUP reloads. `onStop` runs after the workers exit. */
async function serve(
  spec: WorkerSpec,
  flags: ServeFlags,
  onStop: () => Promise<void> = () => Promise.resolve(),
): Promise<{ ready: WorkerReady; supervisor: Supervisor; stop: () => Promise<void> } | undefined> {
  const supervisor = new Supervisor({ workers: flags.workers, spec, drainMs: flags.drainMs });
  let ready: WorkerReady;
  try {
    ready = await supervisor.start();
  } catch (error) {
    if (error instanceof InvalidConfig) {
      // A worker checked the file and refused it: every error, once, as `meshlet validate` says them.
      for (const line of error.errors) log(`error: ${line}`);
    } else {
      log(`could not start: ${messageOf(error)}`);
    }
    await onStop();
    return undefined;
  }
  for (const warning of ready.warnings) log(`warning: ${warning}`);
  if (flags.pidFile !== undefined) writeFileSync(flags.pidFile, `${process.pid}\n`);
  for (const [name, url] of Object.entries(ready.listeners)) log(`listener ${name} on ${url}`);
  log(`admin on ${ready.admin}`);
  log(`ready: ${flags.workers} worker${flags.workers > 1 ? 's' : ''} (pids ${supervisor.pids.join(', ')})`);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log('draining');
      await supervisor.stop();
      await onStop();
      if (flags.pidFile !== undefined) rmSync(flags.pidFile, { force: true });
      log('stopped');
    })());
  const onSignal = (): void => {
    void stop().then(() => process.exit(0));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('SIGHUP', () => {
    log('SIGHUP: starting new workers');
    void supervisor.reload();
  });
  return { ready, supervisor, stop };
}

async function runCommand(args: readonly string[]): Promise<number | undefined> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { ...SERVE_OPTIONS, config: { type: 'string', short: 'c' } },
  });
  const file = values.config ?? positionals[0];
  if (file === undefined) throw new UsageError('run needs a bootstrap file: meshlet run -c <file>');
  const flags = serveFlags(values);
  // The first worker checks the file (every error, reported once) before any worker serves.
  const started = await serve({ kind: 'run', config: resolve(file) }, flags);
  return started === undefined ? 1 : undefined;
}

async function demoCommand(args: readonly string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      ...SERVE_OPTIONS,
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      smoke: { type: 'boolean' },
    },
  });
  const smoke = values.smoke === true;
  const flags = serveFlags(values);
  const port = smoke ? 0 : positiveInt('--port', values.port ?? process.env.PORT, 8080, 0);
  const adminPort = smoke
    ? 0
    : positiveInt('--admin-port', values['admin-port'] ?? process.env.ADMIN_PORT, 9901, 0);
  const { startDemoServices, tour, tryLines } = await import('./demo/demo.js');
  const services = await startDemoServices();
  const started = await serve({ kind: 'demo', services: services.ports, port, adminPort }, flags, () =>
    services.close(),
  );
  if (started === undefined) {
    process.stderr.write(
      `(is 127.0.0.1:${port} or :${adminPort} taken? --port and --admin-port pick others)\n`,
    );
    return 1;
  }
  const url = started.ready.listeners.gateway ?? '';
  const adminUrl = started.ready.admin;
  process.stdout.write(
    `meshlet demo: a gateway on ${url} in front of three catalog services (v1 twice, one of them flaky, and a v2 canary), admin on ${adminUrl}\n\n`,
  );
  for (const line of await tour(url, adminUrl)) process.stdout.write(`  ${line}\n`);
  if (smoke) {
    await started.stop();
    return 0;
  }
  process.stdout.write(
    `\n${tryLines(url, adminUrl)}\n\nServing until Ctrl-C (kill -HUP ${process.pid}: a lossless restart).\n`,
  );
  return undefined;
}

function reloadCommand(args: readonly string[]): number {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { 'pid-file': { type: 'string' } },
  });
  const text = values['pid-file'] !== undefined ? readFileSync(values['pid-file'], 'utf8') : positionals[0];
  const pid = Number(text?.trim());
  if (text === undefined || !Number.isInteger(pid) || pid <= 0)
    throw new UsageError('reload needs the pid of a meshlet primary, or --pid-file <file>');
  try {
    process.kill(pid, 'SIGHUP');
  } catch (error) {
    process.stderr.write(`meshlet: cannot signal ${pid}: ${messageOf(error)}\n`);
    return 1;
  }
  process.stdout.write(`meshlet: sent SIGHUP to ${pid}\n`);
  return 0;
}

/** `meshlet` in the primary process: runs a command, exits with its code unless it serves. */
export async function main(argv: readonly string[]): Promise<void> {
  const code = await runCli(argv);
  if (code !== undefined) process.exit(code);
}
