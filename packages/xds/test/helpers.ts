/** The element at `i`, or a thrown error naming what is missing (instead of a `!` assertion). */
export function at<T>(list: readonly T[] | undefined, i: number): T {
  const v = list?.[i];
  if (v === undefined) throw new Error(`no element ${i}`);
  return v;
}

/** `v`, or a thrown error if it is undefined. */
export function defined<T>(v: T | undefined, what = 'value'): T {
  if (v === undefined) throw new Error(`${what} is undefined`);
  return v;
}
