// atefs: mount an encrypted, versioned directory; manage users, tokens and groups.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { UsageError, notImplemented, runCommand } from './run.js';
import { type MountArgv, mountOptions, planMount } from './atefs/options.js';

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
  'Exit codes: 0 done, 1 error, 2 usage or not implemented yet, 130 interrupted.',
].join('\n');

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
          .positional('remote', { type: 'string', describe: 'tcp://host[:port]/chain of an atedb (not implemented yet); a path here is taken as the log path' })
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
        if (plan.daemon) {
          const { startDaemon } = await import('./atefs/daemon.js');
          code = await startDaemon(plan, plan.temp ? undefined : given);
          return;
        }
        const { foregroundReporter } = await import('./atefs/foreground.js');
        const { mountAndServe } = await import('./atefs/serve.js');
        code = await mountAndServe(plan, plan.temp ? undefined : given, foregroundReporter(plan.verbose));
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
    .command(['user <action>', 'create-user'], 'create a user or show its details', {}, () => {
      code = notImplemented('atefs', 'user commands (the auth issue)');
    })
    .command(['token <action>', 'create-token'], 'generate, view or elevate a token', {}, () => {
      code = notImplemented('atefs', 'token commands (the auth issue)');
    })
    .command('group <action>', 'create groups and manage their members', {}, () => {
      code = notImplemented('atefs', 'group commands (the auth issue)');
    })
    .option('verbose', { alias: 'v', type: 'count', describe: 'more detail on stderr (-vvv: FUSE debug)' })
    .demandCommand(1, 'name a command')
    .strict()
    .fail((msg, err) => {
      // Thrown, so that yargs stops here (a handler must not run on a bad command line).
      if (err) throw err;
      const command = hideBin(process.argv).find((a) => !a.startsWith('-'));
      if (/^Not enough non-option arguments/.test(msg) && (command === 'mount' || command === 'umount')) {
        throw new UsageError(`name the mount point: atefs ${command} <mount-path> (see atefs ${command} --help)`);
      }
      throw new UsageError(`${msg.split('\n')[0]} (see atefs --help)`);
    })
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .parseAsync();
  return code;
});
