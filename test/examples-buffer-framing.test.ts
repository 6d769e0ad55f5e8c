// examples/buffer-framing runs and checks its own replies (it exits non-zero on a wrong one).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('examples/buffer-framing: every frame answered, none wrong', async () => {
  const main = fileURLToPath(new URL('../examples/buffer-framing/main.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [main], {
    env: { ...process.env, FRAMES: '2000' },
    timeout: 15_000,
  });
  expect(stdout).toMatch(/2000 replies checked, 0 wrong/);
});
