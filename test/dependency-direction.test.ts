import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDependencyDirection } from '../scripts/check-deps.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
let tmp: string | undefined;

function tree(files: Record<string, string>): string {
  tmp = mkdtempSync(join(tmpdir(), 'meshlet-deps-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp, path)), { recursive: true });
    writeFileSync(join(tmp, path), text);
  }
  return tmp;
}

afterEach(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe('dependency direction', () => {
  it('holds for the repository as it is', () => {
    expect(checkDependencyDirection(repoRoot)).toEqual([]);
  });

  it('fails when a leaf package imports the proxy', () => {
    const root = tree({
      'packages/buffer/package.json': JSON.stringify({ name: '@meshlet/buffer' }),
      'packages/buffer/src/index.ts':
        "import { createProxy } from '@meshlet/proxy';\nexport { createProxy };\n",
    });
    const violations = checkDependencyDirection(root);
    expect(violations).toHaveLength(1);
    expect(violations[0]?.where).toBe(join('packages', 'buffer', 'src', 'index.ts'));
    expect(violations[0]?.message).toMatch(/@meshlet\/buffer imports @meshlet\/proxy/);
  });

  it('fails on a declared dependency, a dynamic import and a re-export alike', () => {
    const root = tree({
      'packages/lb/package.json': JSON.stringify({
        name: '@meshlet/lb',
        dependencies: { '@meshlet/sdk': 'workspace:^' },
      }),
      'packages/lb/src/a.ts': "export * from '@meshlet/xds/model';\n",
      'packages/lb/src/b.ts': "export const load = () => import('@meshlet/proxy');\n",
    });
    const messages = checkDependencyDirection(root).map((v) => v.message);
    expect(messages).toHaveLength(3);
    expect(messages.join('\n')).toMatch(/depends on @meshlet\/sdk/);
    expect(messages.join('\n')).toMatch(/imports @meshlet\/xds/);
    expect(messages.join('\n')).toMatch(/imports @meshlet\/proxy/);
  });

  it('ignores imports named in comments and strings, and allows downward imports', () => {
    const root = tree({
      'packages/codec/package.json': JSON.stringify({
        name: '@meshlet/codec',
        dependencies: { '@meshlet/buffer': 'workspace:^' },
      }),
      'packages/codec/src/index.ts':
        "import { ByteQueue } from '@meshlet/buffer';\n// import '@meshlet/proxy'\nexport const s = \"from '@meshlet/sdk'\";\nexport { ByteQueue };\n",
      'packages/proxy/package.json': JSON.stringify({ name: '@meshlet/proxy' }),
      'packages/proxy/src/index.ts': "export * from '@meshlet/codec';\n",
    });
    expect(checkDependencyDirection(root)).toEqual([]);
  });

  it('fails for a package that has no place in the table', () => {
    const root = tree({ 'packages/utils/package.json': JSON.stringify({ name: '@meshlet/utils' }) });
    expect(checkDependencyDirection(root)[0]?.message).toMatch(/no place in the dependency table/);
  });
});
