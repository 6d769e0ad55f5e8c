// `npm start`: installs what is missing, builds, and runs meshlet's main job.
//
// meshlet has no proxy yet (issue: @meshlet/proxy), so the main job is an honest placeholder: it
// says which packages exist, runs the framing demo of @meshlet/buffer over a loopback socket, and
// runs its benchmarks briefly. The SDK issue turns this into the demo gateway.
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
say('there is no proxy to start yet; showing @meshlet/buffer at work instead.');

const demo = step(
  'demo: length-prefixed frames over a loopback socket',
  script('examples/buffer-framing/main.ts'),
);
const bench = step(
  'benchmarks of @meshlet/buffer (quick run: rough figures; docs/benchmarks.md has the published ones)',
  script('bench/run.ts', '--quick', 'buffer'),
);
say(
  demo.ok && bench.ok
    ? 'done. Next: README.md for the packages, docs/ for architecture, errors and benchmarks.'
    : 'something failed above.',
);
process.exit(demo.ok && bench.ok ? 0 : 1);
