// Checks the published shape of every public package the way a user would receive it: packed by
// pnpm (so `workspace:` ranges are rewritten as on publish), then linted by publint and checked
// by Are The Types Wrong. Profile `esm-only`: the packages are ESM only on purpose (see
// docs/architecture.md), so attw's CommonJS-resolution findings do not apply; everything else does.
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { NODE, ROOT, pnpm } from './steps.ts';

const out = mkdtempSync(join(tmpdir(), 'meshlet-pack-'));
let failures = 0;

function run(argv: readonly string[], cwd: string): boolean {
  const [command = '', ...args] = argv;
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  return result.status === 0;
}

try {
  for (const folder of readdirSync(join(ROOT, 'packages')).sort()) {
    const dir = join(ROOT, 'packages', folder);
    if (!existsSync(join(dir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
    };
    if (manifest.private) continue;
    console.log(`${manifest.name}:`);
    const dest = mkdtempSync(join(out, `${folder}-`));
    if (!run(pnpm('pack', '--pack-destination', dest), dir)) {
      failures++;
      continue;
    }
    const tarball = join(dest, readdirSync(dest).find((f) => f.endsWith('.tgz')) ?? 'missing.tgz');
    const bin = (name: string): string => join(ROOT, 'node_modules', name);
    if (!run([NODE, bin('publint/src/cli.js'), 'run', tarball, '--strict'], ROOT)) failures++;
    if (!run([NODE, bin('@arethetypeswrong/cli/dist/index.js'), tarball, '--profile', 'esm-only'], ROOT))
      failures++;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
if (failures) {
  console.error(`package shapes: ${failures} check(s) failed`);
  process.exit(1);
}
