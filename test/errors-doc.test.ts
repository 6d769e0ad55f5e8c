import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MeshletError } from '@meshlet/errors';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Documented {
  readonly className: string;
  readonly pkg: string;
}

function documentedCodes(): Map<string, Documented> {
  const text = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const rows = new Map<string, Documented>();
  for (const m of text.matchAll(
    /^\|\s*`(MESHLET_ERR\w*)`\s*\|\s*`(\w+)`\s*\|\s*`(@meshlet\/[\w-]+)`\s*\|\s*\S/gm,
  )) {
    const [, code = '', className = '', pkg = ''] = m;
    expect(rows.has(code), `${code} is documented twice`).toBe(false);
    rows.set(code, { className, pkg });
  }
  return rows;
}

/** Every error class each package exports, with the package that owns it (the one that defines it). */
async function exportedCodes(): Promise<Map<string, Documented>> {
  const owners = new Map<unknown, { pkg: string; deps: number }>();
  for (const folder of readdirSync(join(root, 'packages'))) {
    const manifestPath = join(root, 'packages', folder, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
    };
    const deps = Object.keys(manifest.dependencies ?? {}).filter((d) => d.startsWith('@meshlet/')).length;
    const mod = (await import(join(root, 'packages', folder, 'src', 'index.ts'))) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      const isErrorClass =
        typeof value === 'function' && (value === MeshletError || value.prototype instanceof MeshletError);
      if (!isErrorClass) continue;
      // A class re-exported by a dependant belongs to the package with the fewest meshlet deps.
      const known = owners.get(value);
      if (!known || deps < known.deps) owners.set(value, { pkg: manifest.name, deps });
    }
  }
  const codes = new Map<string, Documented>();
  for (const [cls, { pkg }] of owners) {
    const { code, name } = cls as { code: string; name: string };
    expect(codes.has(code), `${code} is used by two classes`).toBe(false);
    codes.set(code, { className: name, pkg });
  }
  return codes;
}

describe('docs/errors.md', () => {
  it('lists exactly the error codes the packages export, with their class and package', async () => {
    const documented = documentedCodes();
    const exported = await exportedCodes();
    expect(exported.size).toBeGreaterThan(0);
    expect([...documented.keys()].sort()).toEqual([...exported.keys()].sort());
    for (const [code, actual] of exported) expect(documented.get(code), code).toEqual(actual);
  });

  it('names codes in the MESHLET_ERR_* form', async () => {
    for (const code of (await exportedCodes()).keys()) expect(code).toMatch(/^MESHLET_ERR(?:_[A-Z0-9]+)*$/);
  });
});
