import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ID } from '../../../src/rpc/upstream/index.js';
import { RequestIds } from '../../../src/rpc/upstream/request-ids.js';

describe('upstream request ids', () => {
  it('are unique among those in use, in [1, 2**31 - 1], wrapping past the top', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: MAX_REQUEST_ID - 50, max: MAX_REQUEST_ID }),
        fc.array(fc.oneof(fc.constant('send' as const), fc.nat(40)), { maxLength: 300 }),
        fc.integer({ min: -1, max: 5 }),
        (first, ops, reserved) => {
          const ids = new RequestIds(first);
          const inUse = new Map<number, true>();
          for (const op of ops) {
            if (op === 'send') {
              const id = ids.next(inUse, reserved);
              expect(id).toBeGreaterThanOrEqual(1);
              expect(id).toBeLessThanOrEqual(MAX_REQUEST_ID);
              expect(inUse.has(id)).toBe(false);
              expect(id).not.toBe(reserved);
              inUse.set(id, true);
            } else {
              // Retire the op-th id in use (a response, a timeout, a cancel).
              const victim = [...inUse.keys()][op % Math.max(inUse.size, 1)];
              if (victim !== undefined) inUse.delete(victim);
            }
          }
        },
      ),
    );
  });

  it('wraps from 2**31 - 1 to 1', () => {
    const ids = new RequestIds(MAX_REQUEST_ID);
    const none = new Map<number, true>();
    expect([ids.next(none, -1), ids.next(none, -1), ids.next(new Map([[2, true]]), -1)]).toEqual([
      MAX_REQUEST_ID,
      1,
      3,
    ]);
  });
});
