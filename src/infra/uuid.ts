/**
 * UUID version 7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then 74 random bits. Used for
 * audit event ids and request ids: they sort by time, so the unique indexes on them grow at their
 * end instead of at random pages (version 4 ids made every audit insert touch a random page of
 * two indexes), and an id still says nothing a client could predict beyond the millisecond.
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** Random bytes drawn in blocks, as node's own randomUUID does, rather than one call per id. */
const pool = Buffer.alloc(16 * 128);
let offset = pool.length;

export function uuidv7(now: number = Date.now()): string {
  if (offset + 10 > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = offset;
  offset += 10;
  // 48-bit big-endian milliseconds: 12 hex digits.
  const time = now.toString(16).padStart(12, '0').slice(-12);
  const h = (i: number) => HEX[pool[r + i]!]!;
  return (
    `${time.slice(0, 8)}-${time.slice(8, 12)}-` +
    `7${HEX[pool[r]! & 0x0f]![1]}${h(1)}-` +
    `${HEX[(pool[r + 2]! & 0x3f) | 0x80]}${h(3)}-` +
    `${h(4)}${h(5)}${h(6)}${h(7)}${h(8)}${h(9)}`
  );
}
