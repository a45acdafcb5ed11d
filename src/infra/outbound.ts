/**
 * Outbound HTTP for webhooks (key delivery, notifications): the host is resolved once, the
 * address is checked against private, loopback and link-local ranges (unless allowed), and the
 * connection goes to exactly that address, so a DNS answer cannot change between check and use.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const PRIVATE = new BlockList();
for (const [address, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) PRIVATE.addSubnet(address, prefix, 'ipv4');
for (const [address, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32]] as const) {
  PRIVATE.addSubnet(address, prefix, 'ipv6');
}

/** True for loopback, private (RFC 1918, ULA), link-local, CGNAT, multicast and unspecified addresses, IPv4-mapped ones included. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return PRIVATE.check(mapped, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A refusal or failure that names what went wrong (never the request body). */
export class OutboundError extends Error {}

export interface PostOptions {
  /** Allow private, loopback and link-local addresses (`CACHET_WEBHOOK_ALLOW_PRIVATE`). */
  allowPrivate: boolean;
  /** The whole request, connection included, must finish within this. */
  timeoutMs: number;
}

/** POSTs `body` to `url` with `headers`; resolves with the response status (the body is discarded), rejects with an OutboundError. */
export async function postTo(url: URL, body: string, headers: Record<string, string>, options: PostOptions): Promise<number> {
  return (await postForAnswer(url, body, headers, options)).status;
}

/** Most characters of a response body kept (a delivery log shows the start of what a consumer said). */
export const ANSWER_CHARACTERS = 1000;

/** What a target answered: its status and the start of its body (at most ANSWER_CHARACTERS, NUL characters dropped). */
export interface OutboundAnswer {
  status: number;
  body: string;
}

/** As `postTo`, but resolves with the status and the start of the response body. */
export async function postForAnswer(url: URL, body: string, headers: Record<string, string>, options: PostOptions): Promise<OutboundAnswer> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundError(`${url.protocol} is not http or https`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let resolved: { address: string; family: number };
  try {
    resolved = await lookup(hostname);
  } catch (err) {
    throw new OutboundError(`cannot resolve ${hostname} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!options.allowPrivate && isPrivateAddress(resolved.address)) {
    throw new OutboundError(`${hostname} resolves to ${resolved.address}, a private, loopback or link-local address (set CACHET_WEBHOOK_ALLOW_PRIVATE=1 to allow)`);
  }
  // The socket connects to the address just checked, whatever a second lookup would say.
  const pinned: LookupFunction = (_host, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [resolved]);
    else callback(null, resolved.address, resolved.family);
  };
  // Loaded here, not with this module: node:http alone costs a CLI command that delivers nothing some 10 MB on Node 24.
  const client = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  return new Promise<OutboundAnswer>((resolve, reject) => {
    // Settles once, whichever comes first: the response's end, an error, the timeout or a closed socket.
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const request = client.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers }, lookup: pinned, agent: false },
      (response) => {
        // Enough bytes for ANSWER_CHARACTERS characters of UTF-8; the rest is read and dropped.
        const kept: Buffer[] = [];
        let keptBytes = 0;
        response.on('data', (chunk: Buffer) => {
          if (keptBytes >= ANSWER_CHARACTERS * 4) return;
          kept.push(chunk.subarray(0, ANSWER_CHARACTERS * 4 - keptBytes));
          keptBytes += kept[kept.length - 1]!.length;
        });
        const answer = (): OutboundAnswer => ({
          status: response.statusCode ?? 0,
          // NUL characters are dropped: PostgreSQL text cannot hold them.
          body: [...Buffer.concat(kept).toString('utf8').replaceAll('\u0000', '')].slice(0, ANSWER_CHARACTERS).join(''),
        });
        response.on('end', () => settle(() => resolve(answer())));
        response.on('error', (err) => settle(() => reject(new OutboundError(`response failed: ${err.message}`))));
        response.on('close', () => settle(() => reject(new OutboundError(`the connection to ${url.host} closed before the answer ended`))));
      },
    );
    const timer = setTimeout(() => request.destroy(new OutboundError(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on('error', (err) => {
      settle(() => reject(err instanceof OutboundError ? err : new OutboundError(`${(err as NodeJS.ErrnoException).code ?? err.message} connecting to ${url.host}`)));
    });
    request.on('close', () => settle(() => reject(new OutboundError(`the connection to ${url.host} closed without an answer`))));
    request.end(body);
  });
}
