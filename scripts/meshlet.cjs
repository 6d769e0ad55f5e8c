#!/usr/bin/env node
// The entry point of `npm start`, `npm test` and `npm run bench`.
//
// It runs on whatever Node launched npm (Node 20 on some machines), so it is plain CommonJS with
// nothing newer than Node 16 can parse. Its one job is to find a Node that meshlet's toolchain can
// run on and hand over to scripts/<command>.ts under it:
//   - the machine's Node when it is >= 22.19 (nothing is downloaded);
//   - otherwise the Node pinned in .node-version, taken once from the npm registry (the `node`
//     package's build for this platform) into the git-ignored .tools/ folder.
// pnpm, pinned by the `packageManager` field of package.json, is taken the same way into .tools/.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const TOOLS = path.join(ROOT, '.tools');
const MIN_NODE = [22, 19, 0];
const COMMANDS = ['start', 'test', 'bench'];

function say(line) {
  process.stdout.write('meshlet: ' + line + '\n');
}

function fail(line) {
  process.stderr.write('meshlet: ' + line + '\n');
  process.exit(1);
}

function parseVersion(text) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(text).trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

function atLeast(version, min) {
  for (let i = 0; i < 3; i++) {
    if (version[i] !== min[i]) return version[i] > min[i];
  }
  return true;
}

// npm's own CLI, run with the Node that is running us: that pair is known to work together.
function npm(args) {
  const cli = process.env.npm_execpath;
  const result =
    cli && /\.c?js$/.test(cli)
      ? spawnSync(process.execPath, [cli].concat(args), { stdio: ['ignore', 'ignore', 'inherit'] })
      : spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
  if (result.error) fail('could not run npm: ' + result.error.message);
  return result.status === 0;
}

// Installs one package into its own folder under .tools/ (no lockfile, no install scripts) and
// returns that folder; an interrupted install is detected by the marker file and redone.
function toolPackage(folderName, spec) {
  const dir = path.join(TOOLS, folderName);
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}\n');
  const ok = npm([
    'install',
    '--prefix',
    dir,
    '--no-save',
    '--no-package-lock',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
    spec,
  ]);
  if (!ok) fail('npm could not install ' + spec + ' from the registry (see above)');
  fs.writeFileSync(marker, spec + '\n');
  return dir;
}

function resolveNode() {
  const own = parseVersion(process.versions.node);
  if (own && atLeast(own, MIN_NODE)) return { bin: process.execPath, version: process.versions.node };

  const pinned = fs.readFileSync(path.join(ROOT, '.node-version'), 'utf8').trim();
  // The `node` package on the registry is a shim whose install script fetches
  // `node-<platform>-<arch>`, the real build; installing that one directly needs no script.
  const platformPackage = 'node-' + process.platform + '-' + process.arch;
  const folder = 'node-v' + pinned + '-' + process.platform + '-' + process.arch;
  const existed = fs.existsSync(path.join(TOOLS, folder, '.complete'));
  if (existed) {
    say(
      'Node ' + process.versions.node + ' here is older than 22.19; using Node ' + pinned + ' from .tools/',
    );
  } else {
    say(
      'Node ' +
        process.versions.node +
        ' here is older than 22.19; fetching Node ' +
        pinned +
        ' from the npm registry into .tools/ (once)',
    );
  }
  const dir = toolPackage(folder, platformPackage + '@' + pinned);
  const bin = path.join(
    dir,
    'node_modules',
    platformPackage,
    'bin',
    process.platform === 'win32' ? 'node.exe' : 'node',
  );
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || !parseVersion(probe.stdout)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fail('the Node in .tools/ does not run (' + (probe.error ? probe.error.message : probe.stderr) + ')');
  }
  return { bin: bin, version: probe.stdout.trim().replace(/^v/, '') };
}

function resolvePnpm() {
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const m = /^pnpm@(\d+\.\d+\.\d+)/.exec(manifest.packageManager || '');
  if (!m) fail('package.json has no "packageManager": "pnpm@x.y.z" field');
  const version = m[1];
  const folder = 'pnpm-v' + version;
  if (!fs.existsSync(path.join(TOOLS, folder, '.complete'))) {
    // A pnpm of exactly the pinned version already on the PATH will do.
    const own = spawnSync(process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm', ['--version'], {
      encoding: 'utf8',
    });
    if (own.status === 0 && own.stdout.trim() === version) return { cli: null, binDir: null };
    say('fetching pnpm ' + version + ' from the npm registry into .tools/ (once)');
  }
  const dir = toolPackage(folder, 'pnpm@' + version);
  return {
    cli: path.join(dir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs'),
    binDir: path.join(dir, 'node_modules', '.bin'),
  };
}

function main() {
  const command = process.argv[2];
  if (COMMANDS.indexOf(command) < 0) fail('usage: node scripts/meshlet.cjs <' + COMMANDS.join('|') + '>');

  const node = resolveNode();
  const pnpm = resolvePnpm();
  // npm describes the script it runs in npm_* variables (npm_package_*, npm_lifecycle_*, ...),
  // and pnpm would read them as its own. The user's npm_config_* settings (registry, proxy,
  // cafile, store) are kept: pnpm reads those too, and should.
  const env = {};
  for (const key of Object.keys(process.env)) {
    if (!/^npm_/i.test(key) || (/^npm_config_/i.test(key) && !/^npm_config_user_agent$/i.test(key))) {
      env[key] = process.env[key];
    }
  }
  // Every child (pnpm, its scripts, vitest workers, benchmarks) finds this Node and pnpm first.
  env.PATH = [path.dirname(node.bin)]
    .concat(pnpm.binDir ? [pnpm.binDir] : [], [process.env.PATH || ''])
    .join(path.delimiter);
  env.MESHLET_NODE = node.bin;
  if (pnpm.cli) env.MESHLET_PNPM = pnpm.cli;
  const result = spawnSync(
    node.bin,
    [path.join(ROOT, 'scripts', command + '.ts')].concat(process.argv.slice(3)),
    { cwd: ROOT, env: env, stdio: 'inherit' },
  );
  if (result.error) fail('could not start Node ' + node.version + ': ' + result.error.message);
  process.exit(result.status === null ? 1 : result.status);
}

main();
