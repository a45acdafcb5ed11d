/** CIDR lists (IPv4 and IPv6) parsed into node's BlockList, which does the matching. */
import { BlockList, isIP } from 'node:net';

/** `10.0.0.0/8` → its parts, a bare address → a /32 or /128; null when not a CIDR. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [rawAddress = '', bits, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(rawAddress);
  const address = mapped ? mapped[1]! : rawAddress;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 6 ? 128 : 32;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return null;
  // A v4-mapped CIDR (`::ffff:10.0.0.0/104`) counts its prefix over the 128-bit form.
  const prefix = bits === undefined ? max : Number(bits) - (mapped ? 96 : 0);
  if (prefix < 0 || prefix > max) return null;
  return { address, prefix, family: version === 6 ? 'ipv6' : 'ipv4' };
}

/** The entries of `list` that are not valid CIDRs. */
export function invalidCidrs(list: readonly string[]): string[] {
  return list.filter((c) => parseCidr(c) === null);
}

/** A BlockList holding every CIDR of `list` (all must be valid). */
export function blockListOf(list: readonly string[]): BlockList {
  const blocks = new BlockList();
  for (const text of list) {
    const cidr = parseCidr(text);
    if (cidr) blocks.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return blocks;
}

/** The IPv6 block in which IPv4 addresses appear, v4-mapped (`::ffff:0:0/96`). */
const V4_MAPPED_BLOCK = blockListOf(['::ffff:0:0/96']);

/**
 * True when an IPv6 range also matches IPv4 clients. Node's BlockList checks an IPv4 address
 * against IPv6 ranges in its v4-mapped form (`::ffff:a.b.c.d`), so `::/0` admits every IPv4
 * address and `::ffff:0:0/96` does too: worth telling whoever writes such a range.
 */
export function admitsIpv4(text: string): boolean {
  const cidr = parseCidr(text);
  if (!cidr || cidr.family !== 'ipv6') return false;
  if (cidr.prefix > 96) return V4_MAPPED_BLOCK.check(cidr.address, 'ipv6');
  return blockListOf([text]).check('::ffff:0:0', 'ipv6');
}
