// allow_nets: `allow_nets=10.0.0.0/8,::1,local` (Dovecot passdb extra field).
import { BlockList, isIP } from 'node:net';

export function ipInNetworks(ip: string | undefined, nets: string): boolean {
  const list = new BlockList();
  for (const raw of nets.split(/[,\s]+/).filter(Boolean)) {
    // "local" matches connections without a remote IP (UNIX sockets), as in Dovecot.
    if (raw === 'local') {
      if (!ip) return true;
      continue;
    }
    const [addr = '', bits] = raw.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (!isIP(addr)) continue;
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  if (!ip || !isIP(ip)) return false;
  return list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}
