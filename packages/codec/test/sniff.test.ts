import { describe, expect, it } from 'vitest';
import { bolt, BoltFrame, dubbo, DubboFrame, sniff, type Protocol } from '@meshlet/codec';
import { toy } from './helpers/toy-protocol.ts';

const boltBytes = Buffer.concat(bolt.createCodec().encode(new BoltFrame({ kind: 'request', requestId: 1 })));
const bolt2Bytes = Buffer.concat(bolt.createCodec().encode(new BoltFrame({ kind: 'heartbeat', version: 2 })));
const dubboBytes = Buffer.concat(
  dubbo.createCodec().encode(new DubboFrame({ kind: 'heartbeat', body: Buffer.from('N') })),
);
const toyBytes = Buffer.from('TY');
// The start of a real TLS 1.2/1.3 ClientHello record: handshake, version 3.1, length, client_hello.
const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

function outcome(bytes: Uint8Array, protocols: readonly Protocol[] = [bolt, dubbo, toy]): string {
  const result = sniff(bytes, protocols);
  return result.outcome === 'protocol' ? result.protocol.name : result.outcome;
}

describe('sniff', () => {
  it('recognises each protocol from its first bytes', () => {
    expect(outcome(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('http1');
    expect(outcome(Buffer.from('DELETE /x HTTP/1.0\r\n'))).toBe('http1');
    expect(outcome(preface)).toBe('h2c');
    expect(outcome(clientHello)).toBe('tls');
    expect(outcome(boltBytes)).toBe('bolt');
    expect(outcome(bolt2Bytes)).toBe('bolt');
    expect(outcome(dubboBytes)).toBe('dubbo');
    expect(outcome(toyBytes)).toBe('toy');
    expect(outcome(Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'))).toBe('unknown');
  });

  it('asks for more bytes while the prefix is ambiguous, then decides', () => {
    for (const whole of [
      preface,
      Buffer.from('OPTIONS * HTTP/1.1\r\n'),
      clientHello,
      boltBytes,
      dubboBytes,
    ]) {
      const expected = outcome(whole);
      let decidedAt = -1;
      for (let n = 0; n <= whole.length; n++) {
        const got = outcome(whole.subarray(0, n));
        if (got !== 'need-more') {
          decidedAt = n;
          expect(got).toBe(expected);
          break;
        }
      }
      expect(decidedAt).toBeGreaterThan(0);
    }
    expect(outcome(Buffer.from('PRI * HTTP/2.0\r\n'))).toBe('need-more');
    expect(outcome(Buffer.from('GE'))).toBe('need-more');
    expect(outcome(Buffer.alloc(0))).toBe('need-more');
  });

  it('waits for at most maxBytes', () => {
    const almost = preface.subarray(0, 20);
    expect(sniff(almost, [], { maxBytes: 64 }).outcome).toBe('need-more');
    expect(sniff(almost, [], { maxBytes: 16 }).outcome).toBe('unknown');
  });

  it('only finds the protocols it is given', () => {
    expect(outcome(toyBytes, [bolt, dubbo])).toBe('unknown');
    expect(sniff(boltBytes).outcome).toBe('protocol'); // Bolt and Dubbo by default
  });
});
