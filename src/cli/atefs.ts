// atefs: mount an encrypted, versioned directory; manage users, tokens and groups.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_USAGE, notImplemented, runCommand } from './run.js';

await runCommand('atefs', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('atefs')
    .usage('$0 <command> [options]')
    .command('mount <mount-path> [remote] [log-path]', 'mount an encrypted vault on a directory', {}, () => {
      code = notImplemented('atefs', 'mount (the filesystem issue)');
    })
    .command('umount <mount-path>', 'unmount a vault', {}, () => {
      code = notImplemented('atefs', 'umount (the filesystem issue)');
    })
    .command(['user <action>', 'create-user'], 'create a user or show its details', {}, () => {
      code = notImplemented('atefs', 'user commands (the auth issue)');
    })
    .command(['token <action>', 'create-token'], 'generate, view or elevate a token', {}, () => {
      code = notImplemented('atefs', 'token commands (the auth issue)');
    })
    .command('group <action>', 'create groups and manage their members', {}, () => {
      code = notImplemented('atefs', 'group commands (the auth issue)');
    })
    .demandCommand(1, 'atefs: name a command (see --help)')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`atefs: ${msg}`);
      code = EXIT_USAGE;
    })
    .help()
    .parseAsync();
  return code;
});
