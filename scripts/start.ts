// `npm start`: installs what is missing, builds, and runs meshlet's main job.
//
// The main job is `meshlet demo` (packages/sdk/src/cli): @meshlet/proxy on an embedded Envoy config
// in front of three loopback services, serving until Ctrl-C. Arguments after `npm start --` go to
// it: `npm start -- --smoke` runs its tour and exits, `npm start -- --workers 2` runs two workers.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, pnpm, say, script, step } from './steps.ts';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

const installed = join(ROOT, 'node_modules', '.modules.yaml');
if (!existsSync(installed) || statSync(join(ROOT, 'pnpm-lock.yaml')).mtimeMs > statSync(installed).mtimeMs) {
  if (!step('install (frozen lockfile)', pnpm('install', '--frozen-lockfile')).ok) process.exit(1);
} else {
  say('dependencies are installed');
}

const packages = readdirSync(join(ROOT, 'packages'))
  .filter((f) => existsSync(join(ROOT, 'packages', f, 'package.json')))
  .sort();
const stale = packages.filter((f) => {
  const dist = join(ROOT, 'packages', f, 'dist', 'index.js');
  return !existsSync(dist) || newestMtime(join(ROOT, 'packages', f, 'src')) > statSync(dist).mtimeMs;
});
if (stale.length > 0) {
  if (!step('build', pnpm('run', 'build')).ok) process.exit(1);
} else {
  say('packages are built');
}

say('meshlet is a service-mesh data plane for Node.js; these packages exist today:');
for (const folder of packages) {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', folder, 'package.json'), 'utf8')) as {
    name: string;
    description: string;
  };
  process.stdout.write(`  ${manifest.name.padEnd(18)} ${manifest.description}\n`);
}
const smoke = process.argv.includes('--smoke');
const demo = step(
  smoke ? 'meshlet demo (smoke: one tour, then exit)' : 'meshlet demo (Ctrl-C stops it)',
  script('packages/sdk/dist/cli/main.js', 'demo', ...process.argv.slice(2)),
);
say(
  demo.ok
    ? 'done. Next: README.md for the packages, docs/ for architecture, errors and benchmarks.'
    : 'meshlet demo failed (above).',
);
process.exit(demo.ok ? 0 : 1);
