// SOFARPC's SimpleMapSerializer, the Bolt header map on the wire:
//   repeated { i32 keyLength, key bytes (UTF-8), i32 valueLength, value bytes }
// valueLength -1 means a null value (read here as ''), 0 an empty one.
import { MalformedFrameError } from '../errors.js';

/** Walks a header map without creating strings; throws when its lengths do not add up. */
export function checkHeaderMap(bytes: Buffer, start: number, end: number, protocol: string): void {
  let at = start;
  while (at < end) {
    if (at + 4 > end) throw new MalformedFrameError(protocol, 'header map: truncated key length', at);
    const keyLength = bytes.readInt32BE(at);
    if (keyLength < 0 || at + 4 + keyLength > end) {
      throw new MalformedFrameError(protocol, `header map: key length ${keyLength} out of range`, at);
    }
    at += 4 + keyLength;
    if (at + 4 > end) throw new MalformedFrameError(protocol, 'header map: truncated value length', at);
    const valueLength = bytes.readInt32BE(at);
    if (valueLength < -1 || at + 4 + valueLength > end) {
      throw new MalformedFrameError(protocol, `header map: value length ${valueLength} out of range`, at);
    }
    at += 4 + (valueLength > 0 ? valueLength : 0);
  }
}

/** Parses a header map already checked by {@link checkHeaderMap}. */
export function parseHeaderMap(bytes: Buffer): Map<string, string> {
  const map = new Map<string, string>();
  const end = bytes.length;
  let at = 0;
  while (at < end) {
    const keyLength = bytes.readInt32BE(at);
    at += 4;
    const key = bytes.toString('utf8', at, at + keyLength);
    at += keyLength;
    const valueLength = bytes.readInt32BE(at);
    at += 4;
    if (valueLength > 0) {
      map.set(key, bytes.toString('utf8', at, at + valueLength));
      at += valueLength;
    } else {
      map.set(key, '');
    }
  }
  return map;
}

/** Encoded size of a header map. */
export function headerMapSize(map: ReadonlyMap<string, string>): number {
  let size = 0;
  for (const [key, value] of map) size += 8 + Buffer.byteLength(key) + Buffer.byteLength(value);
  return size;
}

/** Writes a header map at `at`; returns the offset after it. */
export function writeHeaderMap(map: ReadonlyMap<string, string>, out: Buffer, at: number): number {
  for (const [key, value] of map) {
    const keyLength = out.write(key, at + 4, 'utf8');
    out.writeInt32BE(keyLength, at);
    at += 4 + keyLength;
    const valueLength = out.write(value, at + 4, 'utf8');
    out.writeInt32BE(valueLength, at);
    at += 4 + valueLength;
  }
  return at;
}

/**
 * The value of `key` (as bytes) in an encoded header map already checked by
 * {@link checkHeaderMap}, or null: what routing needs (service, method) without building the
 * whole map. As with the Map, a repeated key's last value wins.
 */
export function findHeader(bytes: Buffer, start: number, end: number, key: Uint8Array): string | null {
  const keyLength = key.length;
  let found: string | null = null;
  let at = start;
  while (at < end) {
    const entryKeyLength = bytes.readInt32BE(at);
    at += 4;
    let match = entryKeyLength === keyLength;
    for (let i = 0; match && i < keyLength; i++) match = bytes[at + i] === key[i];
    at += entryKeyLength;
    const valueLength = bytes.readInt32BE(at);
    at += 4;
    if (match) found = valueLength > 0 ? bytes.toString('utf8', at, at + valueLength) : '';
    if (valueLength > 0) at += valueLength;
  }
  return found;
}
