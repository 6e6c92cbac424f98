// atefs: mount an encrypted, versioned directory; manage users, tokens and groups.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, helpWidth, runCommand } from './run.js';
import type { LogArgv } from './atefs/log.js';
import { type MountArgv, type MountPlan, mountOptions, planMount } from './atefs/options.js';
import type { GivenToken } from './atefs/token-source.js';
import { createTokenCommand, createUserCommand, groupCommand, tokenCommand, userCommand } from './atefs/auth-commands.js';

/** The log command's options (kept here so that --help loads nothing else). */
const logOptions = {
  limit: { alias: 'n', type: 'number', describe: 'show only the N most recent operations (still oldest first)' },
  json: { type: 'boolean', default: false, describe: 'one JSON object per line: time, eventId (all 64 hex digits), op, path, from (renames), identity' },
  passcode: { alias: 'p', type: 'string', describe: 'passcode of the vault (safer: ATE_PASSCODE=... or the prompt)' },
  'configured-for': { type: 'string', default: 'best-performance', describe: 'the chain profile the vault is mounted with' },
} as const;

const LOG_EPILOGUE = [
  'One line per filesystem operation, oldest first:',
  '  2024-05-01T12:00:00.123Z  4c5138e9da1d4782  create       0bff-cd59-eb90-1391  /a.txt',
  '  2024-05-01T12:00:05.456Z  66550bf91d4ef8b2  rename       0bff-cd59-eb90-1391  /a.txt -> /old/a.txt',
  'The time of the commit (UTC); the first 16 hex digits of the id of its last event, which atefs mount --at takes to show ' +
    'the vault right after the operation; the operation (mkfs, create, mkdir, symlink, mknod, link, rename, unlink, rmdir, ' +
    'write, truncate, chmod, chown, setxattr, removexattr, utimens, setattr); who signed it (the author, else the fingerprint ' +
    'of the signing key); the path as it was then. Operations are inferred from the objects each commit changed; what ' +
    'compaction removed from the log is not listed.',
  'The vault is opened like atefs mount opens it (key file, --passcode, ATE_PASSCODE or a prompt), read-only. It must not be ' +
    'mounted meanwhile (for now, one process at a time reads a vault).',
].join('\n');

const MOUNT_EPILOGUE = [
  'Without a remote URL the vault is embedded: its chain lives on this machine, in the log path if one is given (a directory), ' +
    'else in $XDG_DATA_HOME/ate/vault-XXXXXXXX (~/.local/share/ate/vault-XXXXXXXX without XDG_DATA_HOME), where XXXXXXXX is the ' +
    "first 8 hex digits of the SHA-256 of the mount point's absolute path, so that every mount point has its own vault. " +
    'It is created on first use and kept across unmount and remount. Beside the log:',
  '  vault.json  the passcode salt and a check value that refuses a wrong passcode (mode 0600)',
  '  vault.key   the vault key when there is no passcode (mode 0600): back it up, it is the only key',
  'The passcode comes from --passcode, ATE_PASSCODE, or a prompt on a terminal (typed twice for a new vault; leave it empty ' +
    'there to use a key file). Without any of them a key file is used.',
  '',
  'atefs stays in the foreground until Ctrl-C, SIGTERM or atefs umount, then flushes and unmounts; with --daemon it runs in ' +
    'the background. A mount left behind by a killed atefs is cleaned up by the next mount.',
  'Time travel: with --at the vault is mounted read-only as it was at a time or right after an event (atefs log lists the ' +
    'events); the vault must not be mounted meanwhile.',
  'A remote chain (tcp://host[:port]/<chain>) lives on an atedb, with a replica in the log path. On an atedb with auth it ' +
    'opens by your token (--token-path, --token or ATE_TOKEN): your personal chains /<domain>/<user>/<db> with your keys, a ' +
    "group chain /<group> with the group's keys, gathered from the auth server (--auth, default: the one that issued the " +
    'token). On an atedb without auth it opens by a passcode.',
  'Exit codes: 0 done, 1 error, 2 usage or not implemented yet, 130 interrupted.',
].join('\n');

/** The token a remote mount opens its chain with (--token, --token-path, ATE_TOKEN), unless --no-auth. */
async function remoteToken(plan: MountPlan, a: MountArgv, passcode: boolean): Promise<GivenToken | undefined> {
  if (plan.remote === undefined || a.auth === false) return undefined;
  const { givenToken } = await import('./atefs/token-source.js');
  const token = await givenToken(a);
  if (token && passcode) throw new UsageError(`a remote chain opens by a token (an atedb with auth) or by a passcode (an atedb without), not both: drop ${token.from} or the passcode`);
  return token;
}

await runCommand('atefs', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('atefs')
    .usage('$0 <command> [options]')
    .command(
      'mount <mount-path> [remote] [log-path]',
      'mount an encrypted vault on a directory (an embedded one without a remote URL)',
      (y) =>
        y
          .positional('mount-path', { type: 'string', describe: 'an empty directory to mount the vault on' })
          .positional('remote', { type: 'string', describe: 'tcp://host[:port]/chain of an atedb; a path here is taken as the log path' })
          .positional('log-path', { type: 'string', describe: 'directory of the local chain log (default: see below)' })
          .options(mountOptions)
          .epilogue(MOUNT_EPILOGUE),
      async (argv) => {
        const a = argv as unknown as MountArgv & { daemonChild: boolean };
        if (a.daemonChild) {
          const { runDaemonChild } = await import('./atefs/daemon.js');
          code = await runDaemonChild();
          return;
        }
        const plan = planMount(a);
        const { givenPasscode } = await import('./atefs/serve.js');
        const given = givenPasscode(a.passcode);
        const token = await remoteToken(plan, a, given !== undefined);
        if (plan.daemon) {
          const { startDaemon } = await import('./atefs/daemon.js');
          code = await startDaemon(plan, plan.temp ? undefined : given, token);
          return;
        }
        const { foregroundReporter } = await import('./atefs/foreground.js');
        const { mountAndServe } = await import('./atefs/serve.js');
        code = await mountAndServe(plan, plan.temp ? undefined : given, foregroundReporter(plan.verbose), token);
      },
    )
    .command(
      'umount <mount-path>',
      'unmount a vault: the atefs serving it (foreground or daemon) flushes everything and exits',
      (y) =>
        y
          .positional('mount-path', { type: 'string', describe: 'the mount point' })
          .option('wait', { type: 'number', default: 120, describe: 'seconds to wait for the flush before giving up waiting (the flush goes on)' }),
      async (argv) => {
        const wait = argv['wait'] as number;
        if (!(wait > 0)) throw new UsageError('--wait takes a number of seconds above 0');
        const { umount } = await import('./atefs/umount.js');
        code = await umount(String(argv['mountPath']), wait);
      },
    )
    .command(
      'log <mount-path> [log-path]',
      'list the history of a vault: when, which operation, who, which path (the vault must not be mounted)',
      (y) =>
        y
          .positional('mount-path', { type: 'string', describe: 'the mount point of the vault (it names the vault, as for mount)' })
          .positional('log-path', { type: 'string', describe: 'directory of the local chain log, if the vault was mounted with one' })
          .options(logOptions)
          .epilogue(LOG_EPILOGUE),
      async (argv) => {
        const { showLog } = await import('./atefs/log.js');
        code = await showLog(argv as unknown as LogArgv);
      },
    )
    .command(userCommand((c) => (code = c)))
    .command(createUserCommand((c) => (code = c)))
    .command(tokenCommand((c) => (code = c)))
    .command(createTokenCommand((c) => (code = c)))
    .command(groupCommand((c) => (code = c)))
    .option('verbose', { alias: 'v', type: 'count', describe: 'more detail on stderr (-vvv: FUSE debug)' })
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      // Thrown, so that yargs stops here (a handler must not run on a bad command line).
      if (err) throw err;
      const command = hideBin(process.argv).find((a) => !a.startsWith('-'));
      if (/^Not enough non-option arguments/.test(msg) && (command === 'mount' || command === 'umount' || command === 'log')) {
        throw new UsageError(`name the mount point: atefs ${command} <mount-path> (see atefs ${command} --help)`);
      }
      // A mount option given before the command word: yargs lists it as unknown.
      const unknown = /^Unknown arguments?: (.*)$/.exec(msg.split('\n')[0]!)?.[1]?.split(', ') ?? [];
      const misplaced = unknown.find((name) => Object.hasOwn(mountOptions, name));
      if (misplaced) throw new UsageError(`--${misplaced} is an option of atefs mount: give it after the command (atefs mount --${misplaced} <mount-path> ...)`);
      throw new UsageError(`${msg.split('\n')[0]} (see atefs --help)`);
    })
    .help()
    .alias('help', 'h')
    .wrap(helpWidth())
    .parseAsync();
  return code;
});
