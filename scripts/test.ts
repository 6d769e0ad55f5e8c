// `npm test`: everything a change must pass, in the order a reviewer would check it. Every step
// runs even when an earlier check fails (a lint error should not hide a failing test), except
// that nothing runs without an install and a build.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type StepResult, ROOT, pnpm, say, script, step } from './steps.ts';

const started = performance.now();
say(
  `npm test: install, build, lint, type-check, test, check package shapes, smoke-run benchmarks (Node ${process.versions.node})`,
);

const results: StepResult[] = [];
const run = (title: string, argv: string[], env: NodeJS.ProcessEnv = {}): boolean => {
  const result = step(title, argv, env);
  results.push(result);
  return result.ok;
};

const resultsFile = join(ROOT, '.vitest-results.json');
rmSync(resultsFile, { force: true });

if (
  run('install (frozen lockfile)', pnpm('install', '--frozen-lockfile')) &&
  run('build', pnpm('run', 'build'))
) {
  run('lint (eslint, type-checked rules)', pnpm('exec', 'eslint', '--max-warnings=0', '.'));
  run('format (prettier)', pnpm('exec', 'prettier', '--check', '--log-level=warn', '.'));
  run('type-check (tsc)', pnpm('exec', 'tsc', '-p', 'tsconfig.json'));
  run(
    'type-check sources as published (isolatedDeclarations)',
    pnpm('exec', 'tsc', '-p', 'tsconfig.src.json'),
  );
  run('dependency direction', script('scripts/check-deps.ts'));
  run(
    'tests (vitest)',
    pnpm(
      'exec',
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${resultsFile}`,
    ),
  );
  // HTTP/1.1 is served by the llhttp fast path by default; node:http's front end stays a
  // supported option (`MESHLET_HTTP1_FAST_PATH=0`), so its HTTP/1 suites run on it too.
  run(
    'tests on the node:http front end (MESHLET_HTTP1_FAST_PATH=0)',
    pnpm(
      'exec',
      'vitest',
      'run',
      'packages/proxy/test/listener',
      'packages/proxy/test/http',
      'packages/proxy/test/abuse',
      'test/reliability/fuzz-http1.test.ts',
      'test/reliability/fuzz-regressions.test.ts',
    ),
    { MESHLET_HTTP1_FAST_PATH: '0' },
  );
  run('package shapes (publint, attw)', script('scripts/check-shapes.ts'));
  run('benchmarks (smoke)', script('bench/micro.ts', '--smoke'));
  run('peer benchmarks (smoke: wrk, nginx, HAProxy)', script('bench/src/run.ts', '--smoke'));
}

const failed = results.filter((r) => !r.ok);
process.stdout.write('\n── summary\n');
for (const r of results)
  process.stdout.write(`  ${r.ok ? 'ok    ' : 'FAILED'}  ${r.title} (${r.seconds.toFixed(1)} s)\n`);
say(
  `npm test ${failed.length ? 'FAILED' : 'passed'} in ${((performance.now() - started) / 1000).toFixed(0)} s`,
);

if (existsSync(resultsFile)) {
  const counts = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
  };
  const skipped = counts.numPendingTests + counts.numTodoTests;
  process.stdout.write(
    `tests: ${counts.numPassedTests} passed, ${counts.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`,
  );
}
process.exit(failed.length ? 1 : 0);
