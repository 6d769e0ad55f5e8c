// Self time by function and by file from a V8 .cpuprofile (node --cpu-prof):
//   node packages/proxy/bench/profile-summary.ts <file.cpuprofile> [rows]
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [rows]');
const rows = Number(process.argv[3] ?? '40');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map<number, ProfileNode>();
for (const node of profile.nodes) byId.set(node.id, node);
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i] as number);
  const dt = profile.timeDeltas[i] ?? 0;
  if (node === undefined) continue;
  total += dt;
  const f = node.callFrame;
  const where = f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/packages\//, '');
  const fn = `${f.functionName || '(anonymous)'} ${where}:${String(f.lineNumber + 1)}`;
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
  const group = where === '' ? `(${f.functionName})` : where.replace(/:\d+$/, '');
  byFile.set(group, (byFile.get(group) ?? 0) + dt);
}
function print(title: string, map: Map<string, number>): void {
  console.log(`\n${title}`);
  const sorted = [...map].sort((a, b) => b[1] - a[1]).slice(0, rows);
  for (const [name, us] of sorted) console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`);
}
print('self time by function', byFunction);
print('self time by file', byFile);
