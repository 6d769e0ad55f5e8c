// The README's first example, run as written: extracted, written inside the package (so that
// `@meshlet/sdk` resolves to this package, built), and run with node.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it("runs the README's example as written", async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /## Example[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const file = fileURLToPath(new URL('../readme-example.tmp.mjs', import.meta.url));
  writeFileSync(file, block as string);
  try {
    const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
    expect(stdout).toContain("200 { id: 7, path: '/api/orders/7' }");
    expect(stdout.trim().endsWith('true')).toBe(true);
  } finally {
    rmSync(file, { force: true });
  }
});
