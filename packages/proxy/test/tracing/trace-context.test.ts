import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatTraceParent, parseB3, parseTraceParent } from '../../src/index.js';

const hex = (n: number) =>
  fc.string({
    unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'),
    minLength: n,
    maxLength: n,
  });

describe('W3C traceparent', () => {
  it('round-trips every valid id pair and keeps the sampled flag', () => {
    fc.assert(
      fc.property(hex(32), hex(16), fc.boolean(), (traceId, spanId, sampled) => {
        fc.pre(!/^0+$/.test(traceId) && !/^0+$/.test(spanId));
        expect(parseTraceParent(formatTraceParent(traceId, spanId, sampled))).toEqual({
          traceId,
          spanId,
          flags: sampled ? 1 : 0,
        });
      }),
    );
  });

  it('never throws on arbitrary input, and accepts only well-formed values', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const parsed = parseTraceParent(s);
        if (parsed !== null) expect(s).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      }),
    );
  });

  it('rejects zero ids, version ff, upper case, arrays, and extra fields on version 00', () => {
    const ok = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(parseTraceParent(ok)).not.toBeNull();
    expect(parseTraceParent(ok.toUpperCase())).toBeNull();
    expect(parseTraceParent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`)).toBeNull();
    expect(parseTraceParent(`00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`)).toBeNull();
    expect(parseTraceParent(`ff${ok.slice(2)}`)).toBeNull();
    expect(parseTraceParent(`${ok}-extra`)).toBeNull();
    expect(parseTraceParent(`01${ok.slice(2)}-extra`)).not.toBeNull();
    expect(parseTraceParent([ok, ok])).toBeNull();
    expect(parseTraceParent(undefined)).toBeNull();
  });
});

describe('Zipkin B3', () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const span = '00f067aa0ba902b7';

  it('reads the multi-header and the single-header forms, 64- and 128-bit trace ids', () => {
    expect(parseB3({ 'x-b3-traceid': trace, 'x-b3-spanid': span, 'x-b3-sampled': '1' })).toMatchObject({
      traceId: trace,
      spanId: span,
      flags: 1,
      single: false,
      decided: true,
    });
    expect(
      parseB3({ 'x-b3-traceid': 'A3CE929D0E0E4736', 'x-b3-spanid': span, 'x-b3-flags': '1' }),
    ).toMatchObject({
      traceId: '0000000000000000a3ce929d0e0e4736',
      traceIdAsSent: 'a3ce929d0e0e4736',
      flags: 1,
    });
    expect(parseB3({ b3: `${trace}-${span}-0-${span}` })).toMatchObject({
      flags: 0,
      single: true,
      decided: true,
    });
    expect(parseB3({ b3: `${trace}-${span}` })).toMatchObject({ decided: false });
  });

  it('ignores what is malformed, and never throws', () => {
    for (const headers of [
      {},
      { b3: '0' },
      { b3: 'x-y' },
      { b3: `${trace}-0000000000000000-1` },
      { 'x-b3-traceid': trace },
      { 'x-b3-traceid': trace.slice(1), 'x-b3-spanid': span },
      { 'x-b3-traceid': ['a', 'b'], 'x-b3-spanid': span },
    ])
      expect(parseB3(headers)).toBeNull();
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const parsed = parseB3({ b3: a, 'x-b3-traceid': a, 'x-b3-spanid': b });
        return parsed === null || /^[0-9a-f]{32}$/.test(parsed.traceId);
      }),
    );
  });
});
