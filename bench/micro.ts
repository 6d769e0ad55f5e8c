// Runs every package benchmark (`packages/*/bench/*.bench.ts`), each in its own Node process so
// one benchmark's heap and JIT state do not leak into the next.
//
//   node bench/micro.ts            full run (minutes; run on a quiet machine)
//   node bench/micro.ts --quick    a tenth of the time: rough figures (what npm start shows)
//   node bench/micro.ts --smoke    a few iterations each: proves they run (part of npm test)
//   node bench/micro.ts buffer     only the benchmarks of packages whose folder matches
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const mode = smoke ? ' (smoke)' : args.includes('--quick') ? ' (quick)' : '';
const filters = args.filter((a) => !a.startsWith('--'));

const files: string[] = [];
for (const pkg of readdirSync(join(root, 'packages')).sort()) {
  if (filters.length && !filters.some((f) => pkg.includes(f))) continue;
  const dir = join(root, 'packages', pkg, 'bench');
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.bench.ts')) files.push(join(dir, name));
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(
  `benchmarks${mode}: ${files.length} file(s); Node ${process.versions.node}, ${cpu}, ${cpus().length} cores, ${new Date().toISOString().slice(0, 10)}`,
);
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file.slice(root.length)}`);
  const passed = args.filter((a) => a === '--smoke' || a === '--quick');
  const result = spawnSync(process.execPath, ['--expose-gc', file, ...passed], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    failed++;
    console.error(`benchmark ${file.slice(root.length)} failed (exit ${result.status ?? result.signal})`);
  }
}
if (files.length === 0) {
  console.error('no benchmarks found');
  process.exit(1);
}
process.exit(failed ? 1 : 0);
