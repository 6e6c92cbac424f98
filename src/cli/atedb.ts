// atedb: the server that hosts chains.
import { homedir, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, helpWidth, runCommand, serveUntilSignal } from './run.js';

/** $XDG_DATA_HOME/ate/atedb, else ~/.local/share/ate/atedb. */
function defaultLogsPath(): string {
  return join(process.env['XDG_DATA_HOME'] || join(homedir(), '.local', 'share'), 'ate', 'atedb');
}

const soloOptions = {
  listen: { alias: 'l', type: 'string', default: '0.0.0.0', describe: 'address to listen on' },
  port: { alias: 'p', type: 'number', default: 5000, describe: 'port to listen on (0: any free port)' },
  trust: { alias: 't', type: 'string', choices: ['centralized', 'distributed'], default: 'centralized', describe: 'integrity of hosted chains: centralized (the server validates writes; proofs once per connection) or distributed (every event signed)' },
  auth: { alias: 'a', type: 'string', default: 'tcp://localhost:5001', describe: 'auth server that gives the root keys of personal and group chains (--no-auth: none)' },
  'wire-encryption': { type: 'string', describe: 'AES key size the server demands on the wire: 128, 192 or 256 (default: 128 with --trust centralized, none with distributed; a client may ask for more); --no-wire-encryption: never demand it' },
  'compact-mode': { type: 'string', default: 'never', describe: 'when chains compact: never (history is kept), modified, timer, factor, size, factor-or-timer or size-or-timer' },
  'compact-timer': { type: 'string', describe: 'interval of the timer modes (default 1h)' },
  'compact-threshold-factor': { type: 'number', describe: 'growth factor of the factor modes (default 0.2)' },
  'compact-threshold-size': { type: 'string', describe: 'log size of the size modes (default 100MiB)' },
  servers: { type: 'string', describe: 'every server of a mesh, host[:port],host2[:port]...: this server hosts only the chains whose home it is' },
  'listen-as': { type: 'string', array: true, describe: "this server's own host:port in --servers (repeatable or comma-separated; default: the listen address, or every local address)" },
  'max-connections': { type: 'number', default: 1024, describe: 'connections beyond this are closed at once' },
  'handshake-timeout': { type: 'string', default: '10s', describe: 'a connection that has not finished its hello by then is closed' },
  verbose: { alias: 'v', type: 'count', describe: 'log connections, chains and the identity fingerprint to stderr' },
} as const;

const SOLO_EPILOGUE = [
  'Chains are opened on their first subscribe: personal chains /<domain>/<user>/<db> (root key: the user\'s, from the auth ' +
    'server; with --no-auth anyone may create root objects) and group chains /<group> (root key: the group\'s delegate key; ' +
    'they need an auth server). Each chain keeps its log in <logs-path>/<chain path>.log.',
  `The logs path defaults to $XDG_DATA_HOME/ate/atedb (~/.local/share/ate/atedb without XDG_DATA_HOME; here: ${defaultLogsPath()}). ` +
    'It also holds server.key, the identity clients pin (atedb fingerprint prints it).',
  'On start atedb prints "atedb listening on <addr>:<port>". SIGTERM or Ctrl-C: it stops accepting, finishes the commits in ' +
    'flight, flushes every chain and exits 0.',
].join('\n');

export interface SoloArgv {
  logsPath?: string;
  listen: string;
  port: number;
  trust: 'centralized' | 'distributed';
  auth: string | false;
  wireEncryption?: string | false;
  compactMode: string;
  compactTimer?: string;
  compactThresholdFactor?: number;
  compactThresholdSize?: string;
  servers?: string;
  listenAs?: string[];
  maxConnections: number;
  handshakeTimeout: string;
  verbose: number;
}

function encryptionOf(a: SoloArgv): 0 | 128 | 192 | 256 | 'off' {
  if (a.wireEncryption === false) return 'off';
  if (a.wireEncryption === undefined) return a.trust === 'centralized' ? 128 : 'off';
  const bits = Number(a.wireEncryption);
  if (bits !== 128 && bits !== 192 && bits !== 256) throw new UsageError(`--wire-encryption takes 128, 192 or 256, not "${a.wireEncryption}"`);
  return bits;
}

/** Every address this machine answers on, for a server listening on all of them. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => a.address);
}

async function solo(a: SoloArgv): Promise<number> {
  const core = await import('../core/index.js');
  const { Atedb, WireAuthDirectory } = await import('../server/index.js');
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port takes a number from 0 to 65535, not ${a.port}`);
  if (!Number.isInteger(a.maxConnections) || a.maxConnections < 1) throw new UsageError('--max-connections takes a positive number');
  const encryption = encryptionOf(a);
  const compactMode = core.parseCompactMode(a.compactMode, {
    ...(a.compactTimer !== undefined ? { interval: a.compactTimer } : {}),
    ...(a.compactThresholdFactor !== undefined ? { growth: a.compactThresholdFactor } : {}),
    ...(a.compactThresholdSize !== undefined ? { size: a.compactThresholdSize } : {}),
  });
  const handshakeTimeoutMs = core.parseDuration(a.handshakeTimeout);
  const logsPath = a.logsPath ?? defaultLogsPath();
  const verbose = a.verbose > 0;
  const log = verbose ? (line: string) => console.error(`atedb: ${line}`) : undefined;

  let servers: import('../core/index.js').ServerAddress[] | undefined;
  let self: import('../core/index.js').ServerAddress[] | undefined;
  if (a.servers !== undefined) {
    servers = await core.resolveServers(core.parseServerList(a.servers));
    if (a.listenAs && a.listenAs.length > 0) {
      self = await core.resolveServers(a.listenAs.flatMap((s) => core.parseServerList(s)));
    } else {
      if (a.port === 0) throw new UsageError('--servers needs a fixed --port, or --listen-as host:port');
      const hosts = a.listen === '0.0.0.0' || a.listen === '::' ? localAddresses() : [a.listen];
      self = await core.resolveServers(hosts.map((host) => ({ host, port: a.port })));
    }
    const names = new Set(servers.map((s) => core.hostPort(s.host, s.port)));
    if (!self.some((s) => names.has(core.hostPort(s.host, s.port)))) {
      throw new UsageError(`this server is not in --servers ${a.servers}; name its own entry with --listen-as host:port`);
    }
  }

  const auth = a.auth === false ? undefined : new WireAuthDirectory(a.auth, { knownServersPath: join(logsPath, 'known_servers') });
  let db: import('../server/index.js').Atedb;
  try {
    db = await Atedb.start({
      logsPath,
      host: a.listen,
      port: a.port,
      encryption,
      trust: a.trust,
      ...(auth ? { auth } : {}),
      compactMode,
      ...(servers ? { servers, self: self! } : {}),
      maxConnections: a.maxConnections,
      handshakeTimeoutMs,
      ...(log ? { log } : {}),
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${a.listen}:${a.port} is already in use; stop the other server or pick another --port`);
    if (code === 'EACCES') throw new UsageError(`not allowed to listen on ${a.listen}:${a.port}; pick a port above 1023`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`${a.listen} is not an address of this machine; check --listen`);
    throw err;
  }
  if (verbose) {
    console.error(`atedb: identity ${db.fingerprint} (${join(logsPath, 'server.key')})`);
    console.error(`atedb: logs in ${logsPath}; trust ${a.trust}; auth ${a.auth === false ? 'none' : a.auth}; wire encryption ${encryption === 'off' ? 'off' : `${encryption}`}`);
  }
  console.log(`atedb listening on ${core.hostPort(a.listen, db.port)}`);
  await serveUntilSignal('atedb', () => db.close(), log);
  auth?.close();
  return 0;
}

async function fingerprint(logsPath: string | undefined): Promise<number> {
  const { readIdentity, identityFingerprint, identityPath } = await import('../server/index.js');
  const path = logsPath ?? defaultLogsPath();
  const key = await readIdentity(path);
  if (!key) throw new UsageError(`${identityPath(path)} does not exist yet; atedb solo ${logsPath ?? ''} makes it on first start`.replace('  ', ' '));
  console.log(identityFingerprint(key));
  return 0;
}

await runCommand('atedb', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('atedb')
    .usage('$0 <command> [options]')
    .command(
      'solo [logs-path]',
      'host chains on this machine',
      (y) =>
        y
          .positional('logs-path', { type: 'string', describe: `directory of the chain logs (default ${defaultLogsPath()})` })
          .options(soloOptions)
          .epilogue(SOLO_EPILOGUE),
      async (argv) => {
        code = await solo(argv as unknown as SoloArgv);
      },
    )
    .command(
      'fingerprint [logs-path]',
      "print the server's identity fingerprint (what clients pin, or pass with --fingerprint)",
      (y) => y.positional('logs-path', { type: 'string', describe: `directory of the chain logs (default ${defaultLogsPath()})` }),
      async (argv) => {
        code = await fingerprint(argv['logsPath'] as string | undefined);
      },
    )
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg.split('\n')[0]} (see atedb --help)`);
    })
    .help()
    .alias('help', 'h')
    .wrap(helpWidth())
    .parseAsync();
  return code;
});
