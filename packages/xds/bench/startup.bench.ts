// Start-up cost of the Envoy descriptor: what a process pays before it can translate its first
// resource. Two views:
//   - in a fresh Node process: import @meshlet/xds and translate one cluster (descriptor load
//     included), the figure a user sees at boot (goal: under 100 ms for the descriptor);
//   - in process: JSON.parse + Root.fromJSON of generated/envoy.json alone, timed by tinybench.
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs/light.js';
import { bytes, consume, fmt, measure, quick, smoke, table } from '../../../bench/harness.ts';

const require = createRequire(import.meta.url);
const pkg = dirname(require.resolve('@meshlet/xds/package.json'));
const descriptor = join(pkg, 'generated', 'envoy.json');
const text = readFileSync(descriptor, 'utf8');

// A child process: time from before the import to after the first translation, split in two.
const script = `
const t0 = performance.now();
const xds = await import('@meshlet/xds');
const t1 = performance.now();
xds.fromEnvoy({ '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'c', type: 'EDS', connect_timeout: '1s' });
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1 }));
`;
// The descriptor alone, cold: read, parse and build the protobufjs root in a fresh process.
const coldScript = `
const { readFileSync } = await import('node:fs');
const protobuf = (await import('protobufjs/light.js')).default;
const t0 = performance.now();
protobuf.Root.fromJSON(JSON.parse(readFileSync(${JSON.stringify(descriptor)}, 'utf8')));
console.log(JSON.stringify({ descriptorMs: performance.now() - t0 }));
`;
const runs = smoke ? 1 : quick ? 5 : 15;
const samples: { importMs: number; firstMs: number }[] = [];
for (let i = 0; i < runs; i++) {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: pkg,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  samples.push(JSON.parse(out.stdout) as { importMs: number; firstMs: number });
}
const cold: number[] = [];
for (let i = 0; i < runs; i++) {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', coldScript], {
    cwd: pkg,
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
  cold.push((JSON.parse(out.stdout) as { descriptorMs: number }).descriptorMs);
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

const [load] = await measure([
  {
    name: 'Root.fromJSON(JSON.parse(descriptor))',
    fn: () => {
      consume(protobuf.Root.fromJSON(JSON.parse(text) as protobuf.INamespace));
    },
  },
]);
if (!load) throw new Error('missing result');

table('Start-up cost of the Envoy descriptor (lower is better)', [
  {
    measure: `fresh process: import @meshlet/xds (median of ${runs})`,
    ms: fmt(median(samples.map((s) => s.importMs)), 1),
  },
  {
    measure: 'fresh process: first fromEnvoy() (loads the descriptor, cold JIT)',
    ms: fmt(median(samples.map((s) => s.firstMs)), 1),
  },
  {
    measure: `fresh process: read + parse + Root.fromJSON of the descriptor (median of ${runs})`,
    ms: fmt(median(cold), 1),
  },
  { measure: 'in process: parse + Root.fromJSON (warm JIT, mean)', ms: fmt(load.meanNs / 1e6, 2) },
  { measure: 'descriptor size', ms: bytes(statSync(descriptor).size) },
]);
