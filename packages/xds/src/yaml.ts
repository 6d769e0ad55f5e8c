// YAML parsing, with the `yaml` package loaded at the first YAML text: a process whose configs are
// objects or JSON does not pay for it (about 9 MB of RSS). `yaml` ships CommonJS for Node, so
// `require` keeps parsing synchronous.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let yaml: typeof Yaml | undefined;

/** `yaml`'s `parse(text, { maxAliasCount })`. */
export function parseYaml(text: string, maxAliasCount: number): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml.parse(text, { maxAliasCount });
}
