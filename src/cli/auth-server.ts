// auth-server: serves users, groups and tokens (generate the master keys once, then run).
import { homedir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, runCommand, serveUntilSignal } from './run.js';

const defaultKeyPath = (): string => join(homedir(), 'ate', 'auth.key');
const defaultLogsPath = (): string => join(homedir(), 'ate', 'auth');

const runOptions = {
  listen: { alias: 'l', type: 'string', default: '0.0.0.0', describe: 'address to listen on' },
  port: { alias: 'p', type: 'number', default: 5001, describe: 'port to listen on (0: any free port)' },
  'wire-encryption': { type: 'string', default: '128', describe: 'least AES key size the server demands on the wire: 128, 192 or 256 (passwords and tokens cross it, so it cannot be turned off)' },
  verbose: { alias: 'v', type: 'count', describe: 'log connections to stderr' },
} as const;

const RUN_EPILOGUE = [
  'Users and groups live in auth chains under the logs path (default ~/ate/auth). The key file (default ~/ate/auth.key, from ' +
    'auth-server generate) holds the master keys: the one that signs tokens, which is also the identity clients pin, and the one ' +
    'mixed into every user\'s keys. Losing it locks every user out; back it up.',
  'On start it prints "auth-server listening on <addr>:<port>" and then its identity fingerprint. SIGTERM or Ctrl-C: it ' +
    'finishes the requests in flight and exits 0.',
].join('\n');

interface RunArgv {
  keyPath?: string;
  logsPath?: string;
  listen: string;
  port: number;
  wireEncryption: string;
  verbose: number;
}

async function generate(keyPath: string): Promise<number> {
  const { generateMasterKeys, writeMasterKeys } = await import('../server/auth/master-keys.js');
  const { serverFingerprint } = await import('../core/mesh/wire/index.js');
  const { publicSignKey } = await import('../core/crypto/index.js');
  const keys = generateMasterKeys();
  await writeMasterKeys(keyPath, keys);
  console.log(`master keys written to ${keyPath} (mode 0600); identity ${serverFingerprint(publicSignKey(keys.write))}`);
  return 0;
}

async function run(a: RunArgv): Promise<number> {
  const bits = Number(a.wireEncryption);
  if (bits !== 128 && bits !== 192 && bits !== 256) throw new UsageError(`--wire-encryption takes 128, 192 or 256, not "${a.wireEncryption}"`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new UsageError(`--port takes a number from 0 to 65535, not ${a.port}`);
  const { readMasterKeys } = await import('../server/auth/master-keys.js');
  const { startAuthServer } = await import('../server/auth/server.js');
  const { hostPort } = await import('../core/mesh/wire/index.js');
  const keyPath = a.keyPath ?? defaultKeyPath();
  const logsPath = a.logsPath ?? defaultLogsPath();
  const master = await readMasterKeys(keyPath);
  const log = a.verbose > 0 ? (line: string) => console.error(`auth-server: ${line}`) : undefined;
  let server: Awaited<ReturnType<typeof startAuthServer>>;
  try {
    server = await startAuthServer({ master, logsPath, host: a.listen, port: a.port, encryption: bits, ...(log ? { log } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${a.listen}:${a.port} is already in use; stop the other server or pick another --port`);
    if (code === 'EACCES') throw new UsageError(`not allowed to listen on ${a.listen}:${a.port}; pick a port above 1023`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`${a.listen} is not an address of this machine; check --listen`);
    throw err;
  }
  console.log(`auth-server listening on ${hostPort(a.listen, server.port)}`);
  console.log(`identity ${server.fingerprint}`);
  await serveUntilSignal('auth-server', () => server.close(), log);
  return 0;
}

await runCommand('auth-server', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('auth-server')
    .command(
      'generate [key-path]',
      'write new master keys (mode 0600; an existing file is never replaced)',
      (y) => y.positional('key-path', { type: 'string', describe: 'where to write them (default ~/ate/auth.key)' }),
      async (argv) => {
        code = await generate((argv['keyPath'] as string | undefined) ?? defaultKeyPath());
      },
    )
    .command(
      'run [key-path] [logs-path]',
      'serve users, groups and tokens',
      (y) =>
        y
          .positional('key-path', { type: 'string', describe: 'the master key file (default ~/ate/auth.key)' })
          .positional('logs-path', { type: 'string', describe: 'directory of the auth chains (default ~/ate/auth)' })
          .options(runOptions)
          .epilogue(RUN_EPILOGUE),
      async (argv) => {
        code = await run(argv as unknown as RunArgv);
      },
    )
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(`${msg.split('\n')[0]} (see auth-server --help)`);
    })
    .help()
    .alias('help', 'h')
    .parseAsync();
  return code;
});
