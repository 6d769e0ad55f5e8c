import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type * as ErrorsModule from '../src/index.js';
import { ConfigError, InvalidArgumentError, MeshletError, isMeshletError } from '../src/index.js';

class PoolClosedError extends ConfigError {
  static override readonly code: string = 'MESHLET_ERR_TEST_POOL_CLOSED';
}

describe('MeshletError', () => {
  it('carries its class code, name, message and cause', () => {
    const cause = new Error('disk full');
    const err = new ConfigError('cluster "a": connectTimeout must be positive', { cause });
    expect(err.code).toBe('MESHLET_ERR_CONFIG');
    expect(err.name).toBe('ConfigError');
    expect(err.message).toBe('cluster "a": connectTimeout must be positive');
    expect(err.cause).toBe(cause);
    expect(err.stack).toContain('ConfigError');
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(MeshletError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).not.toBeInstanceOf(InvalidArgumentError);
  });

  it('follows the class chain of subclasses', () => {
    const err = new PoolClosedError('closed');
    expect(err.code).toBe('MESHLET_ERR_TEST_POOL_CLOSED');
    expect(err).toBeInstanceOf(PoolClosedError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(MeshletError);
    expect(new ConfigError('x')).not.toBeInstanceOf(PoolClosedError);
    expect(isMeshletError(err, 'MESHLET_ERR_CONFIG')).toBe(true);
    expect(isMeshletError(err, 'MESHLET_ERR_INVALID_ARGUMENT')).toBe(false);
  });

  it('does not let a subclass without its own code claim its parent’s errors', () => {
    class Careless extends ConfigError {}
    expect(new ConfigError('x')).not.toBeInstanceOf(Careless);
    expect(new Careless('x')).toBeInstanceOf(Careless);
    expect(new Careless('x').code).toBe('MESHLET_ERR_CONFIG');
  });

  it('rejects values that are not meshlet errors', () => {
    for (const value of [null, undefined, 1, 'MESHLET_ERR', new Error('x'), { code: 'MESHLET_ERR_CONFIG' }]) {
      expect(isMeshletError(value)).toBe(false);
      expect(value instanceof MeshletError).toBe(false);
    }
  });

  describe('with two copies of the package installed', () => {
    const dirs: string[] = [];
    afterAll(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    async function installCopy(): Promise<typeof ErrorsModule> {
      const dir = mkdtempSync(join(tmpdir(), 'meshlet-errors-copy-'));
      dirs.push(dir);
      cpSync(fileURLToPath(new URL('../src/', import.meta.url)), dir, { recursive: true });
      return (await import(pathToFileURL(join(dir, 'index.ts')).href)) as typeof ErrorsModule;
    }

    it('recognises errors created by the other copy', async () => {
      const a = await installCopy();
      const b = await installCopy();
      expect(a.ConfigError).not.toBe(b.ConfigError);
      const err = new a.ConfigError('from copy a');
      expect(err).toBeInstanceOf(b.ConfigError);
      expect(err).toBeInstanceOf(b.MeshletError);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err).not.toBeInstanceOf(b.InvalidArgumentError);
      expect(b.isMeshletError(err, 'MESHLET_ERR_CONFIG')).toBe(true);
      expect(new ConfigError('here')).toBeInstanceOf(a.ConfigError);
    });
  });
});
