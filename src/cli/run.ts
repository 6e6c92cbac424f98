// Runs a command: expected errors (AteError) print one line and exit non-zero; anything else
// is a bug and prints its stack.
import { AteError } from '../core/errors.js';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;
export const EXIT_BUG = 70;

export async function runCommand(name: string, main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (err instanceof AteError) {
      console.error(`${name}: ${err.message}`);
      process.exitCode = EXIT_FAILURE;
    } else {
      console.error(`${name}: internal error (please report it):`, err);
      process.exitCode = EXIT_BUG;
    }
  }
}

/** For commands whose issue has not landed yet. */
export function notImplemented(name: string, what: string): number {
  console.error(`${name}: ${what} is not implemented yet`);
  return EXIT_USAGE;
}
