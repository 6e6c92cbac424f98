// auth-server: serves users, groups and tokens.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_USAGE, notImplemented, runCommand } from './run.js';

await runCommand('auth-server', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('auth-server')
    .command('generate [key-path]', 'write the master keys', {}, () => {
      code = notImplemented('auth-server', 'generate (the auth issue)');
    })
    .command('run [key-path] [logs-path]', 'serve users and groups', {}, () => {
      code = notImplemented('auth-server', 'run (the auth issue)');
    })
    .demandCommand(1, 'auth-server: name a command (see --help)')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`auth-server: ${msg}`);
      code = EXIT_USAGE;
    })
    .help()
    .parseAsync();
  return code;
});
