// Fails when a package depends on another against the direction of docs/architecture.md
// (DESIGN.md §2): the leaf packages never import the proxy or the sdk, and nothing imports upward.
//
// Both what the code imports (every `@meshlet/*` specifier in src/, found by TypeScript's own
// pre-processor, so comments and strings are not mistaken for imports) and what package.json
// declares are checked. A package missing from the table fails too: where a new package sits in
// the graph is a decision to write down here, not to discover later.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Which repo packages each package may depend on. */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  errors: [],
  buffer: ['errors'],
  stats: ['errors'],
  lb: ['errors'],
  breaker: ['errors'],
  ratelimit: ['errors'],
  codec: ['errors', 'buffer'],
  xds: ['errors'],
  proxy: ['errors', 'buffer', 'stats', 'lb', 'breaker', 'ratelimit', 'codec', 'xds'],
  sdk: ['errors', 'buffer', 'stats', 'lb', 'breaker', 'ratelimit', 'codec', 'xds', 'proxy'],
};

export interface Violation {
  readonly pkg: string;
  readonly where: string;
  readonly message: string;
}

const SCOPE = '@meshlet/';

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(?:[cm]?ts|[cm]?js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function importedPackages(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const names: string[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith(SCOPE)) continue;
    const name = ref.fileName.slice(SCOPE.length).split('/')[0];
    if (name) names.push(name);
  }
  return names;
}

/** Checks every package under `root/packages` and returns what breaks the direction rule. */
export function checkDependencyDirection(root: string): Violation[] {
  const violations: Violation[] = [];
  const packagesDir = join(root, 'packages');
  const folders = existsSync(packagesDir)
    ? readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'package.json')))
    : [];

  for (const folder of folders) {
    const manifestPath = join(packagesDir, folder, 'package.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
      name?: string;
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const pkg = manifest.name?.startsWith(SCOPE) ? manifest.name.slice(SCOPE.length) : folder;
    const allowed = ALLOWED[pkg];
    if (!allowed) {
      violations.push({
        pkg,
        where: relative(root, manifestPath),
        message: `@meshlet/${pkg} has no place in the dependency table of scripts/check-deps.ts; add it there`,
      });
      continue;
    }
    const check = (dep: string, where: string, how: string): void => {
      if (dep === pkg || allowed.includes(dep)) return;
      violations.push({
        pkg,
        where,
        message: `@meshlet/${pkg} ${how} @meshlet/${dep}, against the direction of dependencies (it may use: ${
          allowed.length ? allowed.map((d) => SCOPE + d).join(', ') : 'no other meshlet package'
        })`,
      });
    };
    const declared = {
      ...manifest.dependencies,
      ...manifest.peerDependencies,
      ...manifest.optionalDependencies,
    };
    for (const dep of Object.keys(declared)) {
      if (dep.startsWith(SCOPE)) check(dep.slice(SCOPE.length), relative(root, manifestPath), 'depends on');
    }
    for (const file of sourceFiles(join(packagesDir, folder, 'src'))) {
      for (const dep of importedPackages(file)) check(dep, relative(root, file), 'imports');
    }
  }
  return violations;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const violations = checkDependencyDirection(root);
  for (const v of violations) console.error(`${v.where}: ${v.message}`);
  if (violations.length > 0) process.exit(1);
  console.log('dependency direction: every package imports only downward');
}
