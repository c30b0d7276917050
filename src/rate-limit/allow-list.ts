import { BlockList, isIP } from 'node:net';

/** One entry of RATE_LIMIT_ALLOW_LIST: an address, or a network in CIDR notation. */
export interface AllowListEntry {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** `::ffff:192.0.2.1` is the IPv4 address a dual-stack socket reports; it is matched as IPv4. */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

/** Parses `192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`; a string says what is wrong with the entry. */
export function parseAllowListEntry(raw: string): AllowListEntry | string {
  const [rawAddress = '', rawPrefix, ...rest] = raw.split('/');
  const address = unmapIPv4(rawAddress);
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return `"${raw}" is not an IPv4 or IPv6 address or CIDR`;
  const bits = version === 4 ? 32 : 128;
  if (rawPrefix !== undefined && (!/^\d{1,3}$/.test(rawPrefix) || Number(rawPrefix) > bits)) {
    return `"${raw}" has a prefix length that is not 0 to ${bits}`;
  }
  return { address, prefix: rawPrefix === undefined ? bits : Number(rawPrefix), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether an address (as request.ip gives it) is exempt from every rate limit. */
export function allowListMatcher(entries: readonly AllowListEntry[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) list.addSubnet(entry.address, entry.prefix, entry.family);
  return (address) => {
    const plain = unmapIPv4(address);
    const version = isIP(plain);
    return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
  };
}
