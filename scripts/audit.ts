// `pnpm run audit`: the dependency audit of docs/reliability.md ("Security defaults"). Asks the
// registry's advisory database about every package of the lockfile (`pnpm audit --json`, dev
// dependencies included) and fails on any high or critical advisory.
//
// Exit codes: 0 no high or critical advisory; 1 some (listed); 2 the advisories could NOT be
// checked (the audit endpoint refused or was unreachable: on the machines this project is built
// on today it answers 405), which is never reported as clean.
import { spawnSync } from 'node:child_process';
import { pnpm, ROOT, say } from './steps.ts';

interface AuditJson {
  readonly advisories?: Record<
    string,
    {
      readonly module_name: string;
      readonly severity: string;
      readonly title: string;
      readonly url: string;
      readonly vulnerable_versions: string;
    }
  >;
  readonly metadata?: { readonly vulnerabilities?: Record<string, number> };
  readonly error?: { readonly code: string; readonly message: string };
}

const [command = 'pnpm', ...args] = pnpm('audit', '--json');
const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
function parse(text: string): AuditJson | null {
  try {
    return JSON.parse(text) as AuditJson;
  } catch {
    return null;
  }
}

const report = parse(result.stdout);
const counts = report?.metadata?.vulnerabilities;
if (report === null || counts === undefined) {
  const error = report?.error;
  const reason =
    error !== undefined
      ? `${error.code}: ${error.message.split('\n')[0] ?? ''}`
      : (result.error?.message ??
        `pnpm exited ${String(result.status)}: ${result.stderr.trim().slice(0, 300)}`);
  say(`audit: advisories NOT checked (${reason})`);
  process.exit(2);
}
const severe = Object.values(report.advisories ?? {}).filter(
  (a) => a.severity === 'high' || a.severity === 'critical',
);
for (const a of severe)
  say(`audit: ${a.severity} ${a.module_name} ${a.vulnerable_versions}: ${a.title} (${a.url})`);
say(
  `audit: ${Object.entries(counts)
    .map(([level, n]) => `${String(n)} ${level}`)
    .join(', ')}`,
);
process.exit(severe.length > 0 ? 1 : 0);
