import { ConfigError } from '@meshlet/errors';
import type { HeaderMutation, HeaderValueOption } from '@meshlet/xds';
import { describe, expect, it } from 'vitest';
import { headerMutationFilter } from '../../src/filters/index.js';
import { TestContext, TestEnv, run, stage } from './context.js';

const append = (
  key: string,
  value: string,
  appendAction: HeaderValueOption['appendAction'] = 'APPEND_IF_EXISTS_OR_ADD',
  keepEmptyValue = false,
): HeaderMutation => ({ append: { header: { key, value }, appendAction, keepEmptyValue } });

function mutations(requestMutations: HeaderMutation[], responseMutations: HeaderMutation[] = []) {
  return stage(
    headerMutationFilter,
    { type: 'header_mutation', requestMutations, responseMutations },
    new TestEnv('hm'),
  );
}

describe('header mutation filter', () => {
  it('applies each append action as Envoy', async () => {
    const s = mutations([
      append('x-append', 'b'),
      append('x-new', 'n'),
      append('x-absent', 'kept', 'ADD_IF_ABSENT'),
      append('x-present', 'ignored', 'ADD_IF_ABSENT'),
      append('x-over', 'o', 'OVERWRITE_IF_EXISTS_OR_ADD'),
      append('x-over-new', 'o', 'OVERWRITE_IF_EXISTS_OR_ADD'),
      append('x-if-exists', 'set', 'OVERWRITE_IF_EXISTS'),
      append('x-if-exists-missing', 'never', 'OVERWRITE_IF_EXISTS'),
      append('x-multi', 'c'),
    ]);
    const ctx = await run(
      new TestContext({
        headers: {
          'x-append': 'a',
          'x-present': 'p',
          'x-over': ['1', '2'],
          'x-if-exists': 'old',
          'x-multi': ['a', 'b'],
        },
      }),
      [s],
    );
    expect(ctx.request.headers).toEqual({
      'x-append': ['a', 'b'],
      'x-new': 'n',
      'x-absent': 'kept',
      'x-present': 'p',
      'x-over': 'o',
      'x-over-new': 'o',
      'x-if-exists': 'set',
      'x-multi': ['a', 'b', 'c'],
    });
  });

  it('applies mutations in order: a remove after an add removes it', async () => {
    const s = mutations([
      append('x-a', '1'),
      { remove: 'x-a' },
      { remove: 'x-gone' },
      append('x-b', '2'),
      append('x-b', '3'),
    ]);
    const ctx = await run(new TestContext({ headers: { 'x-gone': 'bye' } }), [s]);
    expect(ctx.request.headers).toEqual({ 'x-b': ['2', '3'] });
  });

  it('drops an empty value unless keepEmptyValue', async () => {
    const s = mutations([append('x-empty', ''), append('x-kept', '', 'APPEND_IF_EXISTS_OR_ADD', true)]);
    const ctx = await run(new TestContext(), [s]);
    expect(ctx.request.headers).toEqual({ 'x-kept': '' });
  });

  it('mutates the response head, including a local reply', async () => {
    const s = mutations(
      [],
      [append('x-served-by', 'meshlet', 'OVERWRITE_IF_EXISTS_OR_ADD'), { remove: 'server' }],
    );
    const ctx = await run(new TestContext(), [s], {
      status: 200,
      headers: { server: 'upstream', 'x-served-by': 'x' },
    });
    expect(ctx.response?.headers).toEqual({ 'x-served-by': 'meshlet' });
    expect(ctx.request.headers).toEqual({});
  });

  it('does not share a multi-valued header array with the caller', async () => {
    const shared = ['a'];
    const s = mutations([append('x-list', 'b')]);
    const ctx = await run(new TestContext({ headers: { 'x-list': shared } }), [s]);
    expect(ctx.request.headers['x-list']).toEqual(['a', 'b']);
    expect(shared).toEqual(['a']);
  });

  describe('config errors', () => {
    const env = new TestEnv('hm');
    const bad: [string, unknown][] = [
      ['requestMutations[0]', { type: 'header_mutation', requestMutations: [{}], responseMutations: [] }],
      [
        'requestMutations[0]',
        {
          type: 'header_mutation',
          requestMutations: [{ remove: 'a', append: append('b', 'c').append }],
          responseMutations: [],
        },
      ],
      [
        'responseMutations[1].remove',
        {
          type: 'header_mutation',
          requestMutations: [],
          responseMutations: [{ remove: 'a' }, { remove: ':path' }],
        },
      ],
      [
        'requestMutations[0].append.header.key',
        { type: 'header_mutation', requestMutations: [append('host', 'x')], responseMutations: [] },
      ],
      [
        'requestMutations[0].append.header.value',
        { type: 'header_mutation', requestMutations: [append('x', 'a\r\nb: c')], responseMutations: [] },
      ],
      [
        'requestMutations[0].append.header.value',
        { type: 'header_mutation', requestMutations: [append('x', 'price: 5 €')], responseMutations: [] },
      ],
      [
        'requestMutations[0].append.appendAction',
        {
          type: 'header_mutation',
          requestMutations: [{ append: { header: { key: 'x', value: 'y' }, appendAction: 'APPEND' } }],
          responseMutations: [],
        },
      ],
      ['requestMutations', { type: 'header_mutation', requestMutations: 'x', responseMutations: [] }],
    ];
    for (const [field, config] of bad) {
      it(`names ${field}`, () => {
        expect(() => headerMutationFilter.configure(config, env)).toThrow(ConfigError);
        expect(() => headerMutationFilter.configure(config, env)).toThrow(`hm: ${field} `);
      });
    }
  });
});
