// `npm run bench`: the peer suite (bench/src/run.ts), or with `micro` first, the packages' micro
// benchmarks (bench/micro.ts). Arguments after that are passed on.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE, ROOT } from './steps.ts';

const [first, ...rest] = process.argv.slice(2);
const micro = first === 'micro';
const file = fileURLToPath(new URL(micro ? '../bench/micro.ts' : '../bench/src/run.ts', import.meta.url));
const args = micro ? rest : process.argv.slice(2);
const result = spawnSync(NODE, micro ? ['--expose-gc', file, ...args] : [file, ...args], {
  cwd: ROOT,
  stdio: 'inherit',
});
if (result.error) process.stderr.write(`meshlet: could not run ${file}: ${result.error.message}\n`);
process.exit(result.status ?? 1);
