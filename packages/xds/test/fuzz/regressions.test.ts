// Regression tests of the bugs the xDS fuzz suite found, each named after its bug
// (docs/reliability.md, "Bugs found"). Each failed before its fix.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BootstrapError,
  type Issue,
  formatIssue,
  kindOfTypeUrl,
  loadBootstrap,
  translate,
  translateResource,
} from '@meshlet/xds';

describe('bugs found by fuzzing xDS input', () => {
  it('bug 2: a list under a key such as "constructor" made translate() throw a TypeError', () => {
    // The tables of list keys and type URLs were plain objects, so "constructor" found Object.
    const out = translate({ constructor: [{ name: 'c' }], clusters: [{ name: 'd', type: 'STATIC' }] });
    expect(out.clusters.map((c) => c.name)).toEqual(['d']);
    // JSON.parse makes "__proto__" an own key, as a control plane's JSON would.
    expect(translate(JSON.parse('{"__proto__": [{}]}')).errors.map(formatIssue)).toEqual([
      'resource "": a resource needs "@type"',
    ]);
    expect(kindOfTypeUrl('constructor')).toBeUndefined();
    const proto = translateResource({ '@type': 'toString', name: 'x' });
    expect(proto.ok ? 'ok' : proto.kind).toBeUndefined();
  });

  it('bug 3: translate() of malformed YAML text threw the yaml package’s errors', () => {
    // The documented string input went to the YAML parser unguarded: a YAMLParseError or a
    // ReferenceError (unknown alias) escaped instead of an error in the result.
    for (const text of ['{{{', 'a: *nowhere', `clusters: [${'['.repeat(20_000)}`]) {
      const out = translate(text);
      expect(out.errors.map(formatIssue)).toEqual([
        expect.stringMatching(/^input: not valid YAML or JSON: /),
      ]);
      expect(out.clusters).toEqual([]);
    }
  });

  const dir = mkdtempSync(path.join(tmpdir(), 'meshlet-bootstrap-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('bug 4: a bootstrap file with invalid UTF-8 was accepted, its bytes replaced by U+FFFD', () => {
    // The node id below would have become "caf\uFFFD\uFFFD" without a word; Envoy refuses such a file.
    const file = path.join(dir, 'bootstrap.yaml');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from('node:\n  id: "caf'), Buffer.from([0xff, 0xfe]), Buffer.from('"\n')]),
    );
    expect(() => loadBootstrap(file)).toThrow(BootstrapError);
    expect(() => loadBootstrap(file)).toThrow(`bootstrap file ${file} is not valid UTF-8 (line 2)`);
    // Valid UTF-8, with a byte order mark, still loads.
    writeFileSync(file, '\ufeffnode:\n  id: café\n');
    expect(loadBootstrap(file).bootstrap.node.id).toBe('café');
  });

  it('bug 6: translating 20,000 invalid routes took minutes (a scan of every earlier error per error)', () => {
    // Each new error looked for an earlier one of the same path in the whole list: quadratic.
    // 20,000 empty routes (two errors each) took 192 s on the fuzzing machine, blocking the event
    // loop of the process the ADS client runs in; the test's time limit is the bound.
    const out = translate({
      routes: [
        {
          name: 'r',
          virtual_hosts: [{ name: 'v', domains: ['*'], routes: Array.from({ length: 20_000 }, () => ({})) }],
        },
      ],
    });
    expect(out.routeConfigurations).toEqual([]);
    expect(out.errors.length).toBeGreaterThanOrEqual(20_000);
    expect(formatIssue(out.errors[19_999] as Issue)).toMatch(
      /^route_config "r" › virtual_hosts\[0\] › routes\[\d+\]/,
    );
  });
});
