// doveadm's user masks: `*` and `?` wildcards over the whole name (doveadm-who.c, wildcard_match).
import net from 'node:net';

export function userMaskMatches(mask: string, username: string): boolean {
  const re = new RegExp('^' + mask.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
  return re.test(username);
}

/** An IP or a network (`192.0.2.0/24`), as doveadm who/kick accept. */
export function ipMatches(mask: string, ip: string): boolean {
  const [addr, bitsText] = mask.split('/');
  if (!addr || !net.isIP(addr)) return false;
  if (bitsText === undefined) return addr === ip;
  const list = new net.BlockList();
  list.addSubnet(addr, Number(bitsText), net.isIPv6(addr) ? 'ipv6' : 'ipv4');
  return net.isIP(ip) !== 0 && list.check(ip, net.isIPv6(ip) ? 'ipv6' : 'ipv4');
}

/** Whether an argument is an IP mask rather than a user mask. */
export function isIpMask(arg: string): boolean {
  return net.isIP(arg.split('/')[0] ?? '') !== 0;
}
