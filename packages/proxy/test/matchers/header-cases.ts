// Envoy's HeaderMatcher semantics as a table: the matcher suite runs it against
// CompiledHeaderMatcher, the router suite through a route table, so both callers are held to the
// same cases.
import type * as model from '@meshlet/xds';
import type { HeaderMap } from '../../src/types.js';

/** A name, a matcher (model defaults filled by the caller), request headers, whether it matches. */
export type HeaderCase = readonly [
  string,
  Partial<model.HeaderMatcher> & { name: string },
  HeaderMap,
  boolean,
];

const exact = (value: string, ignoreCase = false): model.StringMatcher => ({ exact: value, ignoreCase });

export const headerMatcherCases: readonly HeaderCase[] = [
  ['exact', { name: 'x-env', stringMatch: exact('canary') }, { 'x-env': 'canary' }, true],
  ['exact, other value', { name: 'x-env', stringMatch: exact('canary') }, { 'x-env': 'prod' }, false],
  ['exact, absent', { name: 'x-env', stringMatch: exact('canary') }, {}, false],
  ['exact, ignore case', { name: 'X-Env', stringMatch: exact('Canary', true) }, { 'x-env': 'CANARY' }, true],
  ['prefix', { name: 'ua', stringMatch: { prefix: 'curl/', ignoreCase: false } }, { ua: 'curl/8.0' }, true],
  ['suffix', { name: 'ua', stringMatch: { suffix: '.0', ignoreCase: false } }, { ua: 'curl/8.0' }, true],
  ['contains', { name: 'ua', stringMatch: { contains: 'url', ignoreCase: false } }, { ua: 'curl/8.0' }, true],
  ['regex', { name: 'v', stringMatch: { safeRegex: 'v[0-9]+', ignoreCase: false } }, { v: 'v12' }, true],
  [
    'regex is anchored',
    { name: 'v', stringMatch: { safeRegex: 'v[0-9]+', ignoreCase: false } },
    { v: 'xv12' },
    false,
  ],
  ['several values joined with ,', { name: 'x', stringMatch: exact('a,b') }, { x: ['a', 'b'] }, true],
  ['one of several values is not enough', { name: 'x', stringMatch: exact('a') }, { x: ['a', 'b'] }, false],
  ['present', { name: 'x', presentMatch: true }, { x: '' }, true],
  ['present, absent', { name: 'x', presentMatch: true }, {}, false],
  ['present: false, absent', { name: 'x', presentMatch: false }, {}, true],
  ['present: false, present', { name: 'x', presentMatch: false }, { x: '1' }, false],
  ['present: false, present and empty', { name: 'x', presentMatch: false }, { x: '' }, false],
  ['no specifier is presence', { name: 'x' }, { x: '1' }, true],
  ['range [10, 20) in', { name: 'n', rangeMatch: { start: 10, end: 20 } }, { n: '10' }, true],
  ['range [10, 20) end excluded', { name: 'n', rangeMatch: { start: 10, end: 20 } }, { n: '20' }, false],
  ['range negative', { name: 'n', rangeMatch: { start: -5, end: 0 } }, { n: '-3' }, true],
  ['range start included', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: '-10' }, true],
  ['range below start', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: '-11' }, false],
  ['range, blanks around', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: ' 9 ' }, true],
  ['range, plus sign', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: '+9' }, true],
  ['range not a number', { name: 'n', rangeMatch: { start: 0, end: 100 } }, { n: '5x' }, false],
  ['range, a word', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: 'x' }, false],
  ['range, a fraction', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: '1.5' }, false],
  ['range, empty value', { name: 'n', rangeMatch: { start: -10, end: 10 } }, { n: '' }, false],
  ['range, absent', { name: 'n', rangeMatch: { start: 0, end: 100 } }, {}, false],
  ['range, inverted', { name: 'n', rangeMatch: { start: 0, end: 5 }, invertMatch: true }, { n: '7' }, true],
  ['invert', { name: 'x-env', stringMatch: exact('canary'), invertMatch: true }, { 'x-env': 'prod' }, true],
  [
    'invert, match',
    { name: 'x-env', stringMatch: exact('canary'), invertMatch: true },
    { 'x-env': 'canary' },
    false,
  ],
  // Envoy: a value matcher fails on an absent header, inverted or not...
  ['invert, absent', { name: 'x-env', stringMatch: exact('canary'), invertMatch: true }, {}, false],
  // ...unless treat_missing_header_as_empty makes it "".
  [
    'invert, absent, missing as empty',
    { name: 'x-env', stringMatch: exact('canary'), invertMatch: true, treatMissingHeaderAsEmpty: true },
    {},
    true,
  ],
  [
    'missing as empty, regex .*',
    { name: 'x', stringMatch: { safeRegex: '.*', ignoreCase: false }, treatMissingHeaderAsEmpty: true },
    {},
    true,
  ],
  [
    'missing as empty, exact ""',
    { name: 'x', stringMatch: exact(''), treatMissingHeaderAsEmpty: true },
    {},
    true,
  ],
  ['invert present: true, absent', { name: 'x', presentMatch: true, invertMatch: true }, {}, true],
];
