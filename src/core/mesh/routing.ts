// Which server hosts a chain (docs/FORMAT.md "Servers and homes"): a URL names one or more hosts,
// every address of every host is a server, and a chain's home is picked by rendezvous hashing.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hash } from '../crypto/index.js';
import { type ChainKey, chainKey } from '../event/ids.js';
import { ConfigError } from '../errors.js';
import { hostPort } from './wire/connection.js';

export const DEFAULT_PORT = 5000;

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

const URL_FORM = 'tcp://host[:port][,host2[:port]...]/<chain>, for example tcp://db.example.com/example.com/joe/notes';

/** One "host[:port]" (IPv6 addresses in brackets). */
export function parseServer(text: string, defaultPort = DEFAULT_PORT): ServerAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (!m || port < 1 || port > 65535) throw new ConfigError(`"${text}" is not a server address; write host or host:port (IPv6 as [addr]:port)`);
  return { host: (m[1] ?? m[2])!, port };
}

/** A comma-separated list of servers ("a:5000,b,c:5002"). */
export function parseServerList(text: string, defaultPort = DEFAULT_PORT): ServerAddress[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(`"${text}" names no server; write host[:port][,host2[:port]...]`);
  return parts.map((p) => parseServer(p, defaultPort));
}

/** tcp://host[:port][,host2[:port]]/<chain> → the servers and the chain. ConfigError for anything else. */
export function parseChainUrl(url: string): { servers: ServerAddress[]; chain: ChainKey } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/.exec(url.trim());
  if (!m) throw new ConfigError(`"${url}" is not a chain URL; write ${URL_FORM}`);
  if (m[1]!.toLowerCase() !== 'tcp') throw new ConfigError(`"${url}": only tcp:// URLs are supported; write ${URL_FORM}`);
  if (m[3] === undefined || m[3] === '/') throw new ConfigError(`"${url}" names no chain; write ${URL_FORM}`);
  let servers: ServerAddress[];
  try {
    servers = parseServerList(m[2]!);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`"${url}": ${err.message}`);
    throw err;
  }
  return { servers, chain: chainKey(m[3].replace(/\/+$/, '')) };
}

/** Every A and AAAA address of each host (IP literals as they are), sorted and deduplicated. */
export async function resolveServers(servers: readonly ServerAddress[]): Promise<ServerAddress[]> {
  const found = new Map<string, ServerAddress>();
  for (const s of servers) {
    let hosts: string[];
    if (isIP(s.host)) hosts = [s.host];
    else {
      try {
        hosts = (await lookup(s.host, { all: true, verbatim: true })).map((a) => a.address);
      } catch (err) {
        throw new ConfigError(`cannot resolve the server name "${s.host}" (${(err as NodeJS.ErrnoException).code ?? String(err)}); check the address`);
      }
    }
    for (const host of hosts) found.set(hostPort(host, s.port), { host, port: s.port });
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

/**
 * The home server of a chain, by rendezvous hashing: each server scores SHA-256 of its "host:port"
 * (IPv6 in brackets), a zero byte and the chain key, and the greatest score (big-endian) wins. Every
 * chain draws independently, so servers get even shares; a ring with one point per server (the
 * reference's) left one of three servers without any of 100 chains for one port trio in ten.
 * Removing a server moves only the chains it was home to.
 */
export function homeOf(chain: ChainKey, servers: readonly ServerAddress[]): ServerAddress {
  if (servers.length === 0) throw new ConfigError('no servers to choose a home from');
  let best: { s: ServerAddress; score: Buffer } | undefined;
  for (const s of servers) {
    const score = Buffer.from(hash(Buffer.from(`${hostPort(s.host, s.port)}\0${chain}`, 'utf8')));
    if (!best || Buffer.compare(score, best.score) > 0) best = { s, score };
  }
  return best!.s;
}
