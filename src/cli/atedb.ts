// atedb: the server that hosts chains.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_USAGE, notImplemented, runCommand } from './run.js';

await runCommand('atedb', async () => {
  let code: number | void = undefined;
  await yargs(hideBin(process.argv))
    .scriptName('atedb')
    .command('solo [logs-path]', 'host chains on this machine', {}, () => {
      code = notImplemented('atedb', 'solo (the atedb issue)');
    })
    .demandCommand(1, 'atedb: name a command (see --help)')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`atedb: ${msg}`);
      code = EXIT_USAGE;
    })
    .help()
    .parseAsync();
  return code;
});
