/**
 * The largest upstream request id: 2**31 - 1 fits every protocol's id field (Bolt's u32, which
 * sofa-bolt-node reads as a signed int32; Dubbo's i64; a user protocol's u32) as a positive number.
 */
export const MAX_REQUEST_ID = 0x7fffffff;

/**
 * Upstream request ids of one connection: 1, 2, 3... wrapping to 1 after {@link MAX_REQUEST_ID},
 * skipping ids still in use, so an id is unique among the connection's requests in flight. A
 * retired id (answered, timed out, cancelled) comes back only after 2**31 - 1 others, so a late
 * response to it is dropped long before.
 */
export class RequestIds {
  #next: number;

  constructor(first = 1) {
    this.#next = first;
  }

  /** A fresh id: not in `inUse` and not `reserved`. `inUse` must hold fewer than 2**31 - 2 ids. */
  next(inUse: ReadonlyMap<number, unknown>, reserved: number): number {
    let id = this.#next;
    for (;;) {
      if (id > MAX_REQUEST_ID || id < 1) id = 1;
      if (id !== reserved && !inUse.has(id)) break;
      id++;
    }
    this.#next = id + 1;
    return id;
  }
}
