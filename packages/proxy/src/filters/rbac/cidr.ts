// IP addresses and CIDR ranges as 32-bit words, for RBAC's source and destination IP rules.
//
//   IPv4  a.b.c.d            → family 4, w3 = a<<24 | b<<16 | c<<8 | d   (w0..w2 = 0)
//   IPv6  g0:g1:…:g7         → family 6, w0 = g0<<16 | g1, …, w3 = g6<<16 | g7
//
// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a dual-stack Node server reports for an
// IPv4 peer) is an IPv4 address here, as Envoy reports such peers. A range matches addresses of
// its own family only. Matching is four masked word compares: no BigInt, no allocation.
import { isIPv4, isIPv6 } from 'node:net';

/** A parsed IP address. */
export class IpAddress {
  readonly family: 4 | 6;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;

  constructor(family: 4 | 6, w0: number, w1: number, w2: number, w3: number) {
    this.family = family;
    this.w0 = w0 >>> 0;
    this.w1 = w1 >>> 0;
    this.w2 = w2 >>> 0;
    this.w3 = w3 >>> 0;
  }
}

let lastText = '';
let lastParsed: IpAddress | null = null;

/**
 * Parses an IPv4 or IPv6 address (a zone `%eth0` is ignored), or returns `null`. The last result
 * is remembered: the requests of one keep-alive connection parse their peer once.
 */
export function parseIp(text: string): IpAddress | null {
  if (text === lastText) return lastParsed;
  const parsed = parseUncached(text);
  lastText = text;
  lastParsed = parsed;
  return parsed;
}

function parseUncached(text: string): IpAddress | null {
  const v4 = parseV4(text);
  if (v4 >= 0) return new IpAddress(4, 0, 0, 0, v4);
  const groups = parseV6(text);
  if (groups === null) return null;
  const w0 = ((groups[0] as number) << 16) | (groups[1] as number);
  const w1 = ((groups[2] as number) << 16) | (groups[3] as number);
  const w2 = ((groups[4] as number) << 16) | (groups[5] as number);
  const w3 = ((groups[6] as number) << 16) | (groups[7] as number);
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return new IpAddress(4, 0, 0, 0, w3);
  return new IpAddress(6, w0, w1, w2, w3);
}

/** A dotted quad as an unsigned 32-bit number, or -1. */
function parseV4(text: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // No leading zeros ("010" is ambiguous: octal in some parsers), as node:net.
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** The eight 16-bit groups of an IPv6 address, or null. */
function parseV6(input: string): number[] | null {
  const zone = input.indexOf('%');
  const text = zone >= 0 ? input.slice(0, zone) : input;
  if (!isIPv6(text)) return null;
  const gap = text.indexOf('::');
  const head = gap >= 0 ? text.slice(0, gap) : text;
  const tail = gap >= 0 ? text.slice(gap + 2) : '';
  const front = groupsOf(head);
  const back = groupsOf(tail);
  if (front === null || back === null) return null;
  const missing = 8 - front.length - back.length;
  if (gap < 0 ? missing !== 0 : missing < 1) return null;
  const out = front;
  for (let i = 0; i < (gap >= 0 ? missing : 0); i++) out.push(0);
  for (const g of back) out.push(g);
  return out;
}

function groupsOf(part: string): number[] | null {
  const out: number[] = [];
  if (part === '') return out;
  const pieces = part.split(':');
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (i === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseV4(piece);
      if (v4 < 0) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
      out.push(parseInt(piece, 16));
    }
  }
  return out;
}

/** The mask of the bits of word `index` (0..3) that a prefix of `length` bits over 128 covers. */
function wordMask(length: number, index: number): number {
  const bits = Math.min(32, Math.max(0, length - index * 32));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** A CIDR range compiled to masked words. */
export class CidrRange {
  readonly family: 4 | 6;
  readonly prefixLen: number;
  readonly m0: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;
  readonly n0: number;
  readonly n1: number;
  readonly n2: number;
  readonly n3: number;

  /** `address` must be a plain IPv4 or IPv6 address, `prefixLen` within its family's width. */
  constructor(address: IpAddress, prefixLen: number) {
    this.family = address.family;
    this.prefixLen = prefixLen;
    // An IPv4 range lives in the last word: its prefix is offset by the 96 bits before it.
    const length = address.family === 4 ? 96 + prefixLen : prefixLen;
    this.m0 = address.family === 4 ? 0 : wordMask(length, 0);
    this.m1 = address.family === 4 ? 0 : wordMask(length, 1);
    this.m2 = address.family === 4 ? 0 : wordMask(length, 2);
    this.m3 = wordMask(length, 3);
    // Bits past the prefix are ignored, as Envoy's CidrRange does.
    this.n0 = (address.w0 & this.m0) >>> 0;
    this.n1 = (address.w1 & this.m1) >>> 0;
    this.n2 = (address.w2 & this.m2) >>> 0;
    this.n3 = (address.w3 & this.m3) >>> 0;
  }

  /** Whether `ip` lies in this range (same family only). */
  contains(ip: IpAddress | null): boolean {
    return (
      ip !== null &&
      ip.family === this.family &&
      (ip.w3 & this.m3) >>> 0 === this.n3 &&
      (ip.w2 & this.m2) >>> 0 === this.n2 &&
      (ip.w1 & this.m1) >>> 0 === this.n1 &&
      (ip.w0 & this.m0) >>> 0 === this.n0
    );
  }

  /** Whether the address text lies in this range; false for anything that is not an IP address. */
  containsAddress(text: string): boolean {
    return this.contains(parseIp(text));
  }
}

/**
 * Compiles `addressPrefix/prefixLen`, or returns why it cannot. The address is IPv4 or IPv6
 * (an IPv4-mapped IPv6 prefix is taken as IPv4, its length less 96).
 */
export function compileCidr(addressPrefix: string, prefixLen: number): CidrRange | string {
  if (!isIPv4(addressPrefix) && !isIPv6(addressPrefix)) return `"${addressPrefix}" is not an IP address`;
  const ip = parseIp(addressPrefix);
  if (ip === null) return `"${addressPrefix}" is not an IP address`;
  const mapped = ip.family === 4 && !isIPv4(addressPrefix);
  const length = mapped ? prefixLen - 96 : prefixLen;
  const max = ip.family === 4 ? 32 : 128;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    return `prefix length ${prefixLen} is outside 0..${mapped ? 128 : max} for ${addressPrefix}`;
  }
  return new CidrRange(ip, length);
}
