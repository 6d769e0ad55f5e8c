import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median, quantile } from '../src/lib/stats.ts';
import { fmt, markdownTable, renderTable } from '../src/lib/table.ts';
import { findTool, inCi, makeNeed } from '../src/lib/tools.ts';
import { cpuPlacement, pinned } from '../src/lib/cpu.ts';

describe('median and quantile', () => {
  it('median is the middle of the sorted values, whatever their order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }),
        (values) => {
          const m = median(values);
          expect(m).toBeGreaterThanOrEqual(Math.min(...values));
          expect(m).toBeLessThanOrEqual(Math.max(...values));
          expect(median([...values].reverse())).toBe(m);
        },
      ),
    );
  });

  it('quantile is the nearest-rank value', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(sorted, 0.5)).toBe(5);
    expect(quantile(sorted, 0.99)).toBe(10);
    expect(quantile(sorted, 0)).toBe(1);
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { minLength: 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, q) => {
          const sorted = [...values].sort((a, b) => a - b);
          const value = quantile(sorted, q);
          expect(sorted).toContain(value);
          expect(sorted.filter((v) => v <= value).length).toBeGreaterThanOrEqual(
            Math.ceil(q * sorted.length),
          );
        },
      ),
    );
  });
});

describe('tables', () => {
  it('formats figures to 3 significant digits and marks absent ones', () => {
    expect(fmt(32956.1)).toBe('32,956');
    expect(fmt(1.234)).toBe('1.23');
    expect(fmt(0.01234)).toBe('0.0123');
    expect(fmt(undefined)).toBe('—');
    expect(fmt(Number.NaN)).toBe('—');
  });

  it('pads a markdown table as prettier does', () => {
    expect(markdownTable(['a', 'long header'], [['xyz', '1']])).toBe(
      ['| a   | long header |', '| --- | ----------- |', '| xyz | 1           |'].join('\n'),
    );
  });

  it('adds the ratio column against the meshlet row, on requests/s', () => {
    const markdown = renderTable({
      title: 'T',
      command: 'npm run bench -- t',
      ratioTo: 'meshlet',
      rows: [
        { target: 'meshlet', rps: 30_000, p50Ms: 1.5 },
        { target: 'peer', rps: 10_000, extra: { note: 'x' } },
      ],
      notes: ['a note'],
    });
    expect(markdown).toContain('### T');
    expect(markdown).toContain('Command: `npm run bench -- t`');
    expect(markdown).toMatch(/\| meshlet +\| 30,000 +\| 1\.50 ms +\| — +\| 1\.00× +\|/);
    expect(markdown).toMatch(/\| peer +\| 10,000 +\| — +\| x +\| 3\.00× +\|/);
    expect(markdown).toContain('- a note');
    expect(markdown).not.toContain('p99');
  });

  it('falls back to RSS for the ratio, and says when the reference row is missing', () => {
    const rss = renderTable({
      title: 'M',
      command: 'c',
      ratioTo: 'meshlet',
      rows: [
        { target: 'meshlet', rssMiB: 40 },
        { target: 'nginx', rssMiB: 20 },
      ],
      notes: [],
    });
    expect(rss).toMatch(/\| nginx +\| 20\.0 MiB +\| 2\.00× +\|/);
    const missing = renderTable({
      title: 'M',
      command: 'c',
      ratioTo: 'meshlet',
      rows: [{ target: 'nginx', rps: 1 }],
      notes: [],
    });
    expect(missing).toContain('no row "meshlet"');
  });
});

describe('tools and CPU placement', () => {
  it('finds a tool on the PATH or in sbin', () => {
    expect(findTool('sh')).toMatch(/\/sh$/);
    expect(findTool('no-such-tool-meshlet')).toBeUndefined();
  });

  it('a missing tool fails in CI and is skipped loudly, once, elsewhere', () => {
    expect(() => makeNeed(() => undefined, true)('no-such-tool-meshlet')).toThrow(/CI must run/);
    const lines: string[] = [];
    const need = makeNeed((line) => lines.push(line), false);
    expect(need('no-such-tool-meshlet')).toBe(false);
    expect(need('no-such-tool-meshlet')).toBe(false);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/SKIPPING.*no-such-tool-meshlet/);
    expect(need('sh')).toBe(true);
  });

  it('reads CI from the environment', () => {
    expect(inCi({ CI: 'true' })).toBe(true);
    expect(inCi({ CI: '1' })).toBe(true);
    expect(inCi({ CI: 'false' })).toBe(false);
    expect(inCi({ CI: '' })).toBe(false);
    expect(inCi({})).toBe(false);
    expect(inCi({ MESHLET_REQUIRE_BENCH_TOOLS: '1' })).toBe(true);
  });

  it('pins through taskset when there is a placement, and not otherwise', () => {
    expect(pinned(undefined, 'wrk', ['-t1'])).toEqual({ command: 'wrk', args: ['-t1'] });
    const placement = cpuPlacement({ MESHLET_BENCH_TARGET_CPUS: '2', MESHLET_BENCH_LOAD_CPUS: '3' });
    if (findTool('taskset') === undefined) {
      expect(placement.target).toBeUndefined();
    } else {
      expect(placement).toMatchObject({ target: '2', load: '3' });
      expect(pinned('2', 'wrk', ['-t1'])).toEqual({
        command: findTool('taskset'),
        args: ['-c', '2', 'wrk', '-t1'],
      });
    }
  });
});
