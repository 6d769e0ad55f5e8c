// `meshlet validate`: exit codes and messages with field paths, on files written here.
import { describe, expect, it } from 'vitest';
import { runMeshlet } from './cli-process.ts';
import { gatewayBootstrap, tempDir, writeFile } from './fixtures.ts';

const dir = tempDir();

describe('meshlet validate', () => {
  it('accepts a good bootstrap: exit 0', async () => {
    const file = writeFile(dir, 'good.yaml', gatewayBootstrap(8081));
    const { code, stdout } = await runMeshlet(['validate', file]);
    expect(stdout).toContain(`${file}: valid`);
    expect(code).toBe(0);
  });

  it('reports a route to an unknown cluster with its field path: exit 1', async () => {
    const file = writeFile(dir, 'unknown-cluster.yaml', gatewayBootstrap(8081, 'carts'));
    const { code, stdout } = await runMeshlet(['validate', file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/error: .*virtual_hosts\[0\] › routes\[0\] › route\.cluster: .*"carts"/);
    expect(stdout).toContain(`${file}: invalid (1 error)`);
  });

  it('reports every untranslatable field with its path', async () => {
    const text = gatewayBootstrap(8081)
      .replace('connect_timeout: 1s', 'connect_timeout: 1s\n      lb_policy: NOT_A_POLICY')
      .replace('stat_prefix: ingress', 'stat_prefix: ingress\n                no_such_field: 1');
    const file = writeFile(dir, 'fields.yaml', text);
    const { code, stdout } = await runMeshlet(['validate', file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/error: .*lb_policy/);
    expect(stdout).toMatch(/error: .*no_such_field/);
  });

  it("reports the proxy's compile-time errors (a filter's config)", async () => {
    const text = gatewayBootstrap(8081).replace(
      'type_url: type.googleapis.com/meshlet.served_by\n                      value: {}',
      "type_url: type.googleapis.com/meshlet.served_by\n                      value: { header: '' }",
    );
    const file = writeFile(dir, 'filter.yaml', text);
    const { code, stdout } = await runMeshlet(['validate', file]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/error: .*meshlet\.served_by: header must be a header name/);
  });

  it('reports an unreadable file and bad YAML; no file at all is a usage error', async () => {
    const missing = await runMeshlet(['validate', `${dir}/nope.yaml`]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/cannot read bootstrap file/);
    const yaml = await runMeshlet(['validate', writeFile(dir, 'bad.yaml', 'admin: [\n')]);
    expect(yaml.code).toBe(1);
    expect(yaml.stdout).toMatch(/not valid YAML/);
    const usage = await runMeshlet(['validate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/validate needs a bootstrap file/);
  });
});
