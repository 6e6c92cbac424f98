// Runs a command: expected errors (AteError) print one line and exit non-zero; anything else
// is a bug and prints its stack.
import { AteError } from '../core/errors.js';

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;
export const EXIT_BUG = 70;
/** Stopped by Ctrl-C before it could finish (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** An expected failure of a command: one line for the user and the exit code that goes with it. */
export class CliError extends AteError {
  override readonly code = 'CLI';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A command line that cannot work as written: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** For commands and options whose issue has not landed yet: exit code 2. */
export class NotImplementedError extends CliError {
  constructor(what: string) {
    super(`${what} is not implemented yet`, EXIT_USAGE);
  }
}

/** The exit code an error ends the command with. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof AteError) return EXIT_FAILURE;
  return EXIT_BUG;
}

/** Prints an error the way runCommand does: one line for expected errors, the stack for bugs. */
export function reportError(name: string, err: unknown, verbose = false): number {
  const code = exitCodeOf(err);
  if (code === EXIT_BUG) console.error(`${name}: internal error (please report it):`, err);
  else {
    console.error(`${name}: ${(err as Error).message}`);
    if (verbose && (err as Error).cause !== undefined) console.error((err as Error).cause);
  }
  return code;
}

export async function runCommand(name: string, main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    process.exitCode = reportError(name, err, process.argv.includes('-v') || process.argv.includes('--verbose'));
  }
  // The command is done. A native binding (FUSE's, after an unmount from outside) can keep a handle
  // alive that nothing will ever close: end the process shortly if it does not end on its own.
  setTimeout(() => process.exit(), 1000).unref();
}

/** For commands whose issue has not landed yet. */
export function notImplemented(name: string, what: string): number {
  console.error(`${name}: ${what} is not implemented yet`);
  return EXIT_USAGE;
}

/**
 * For servers: resolves once SIGTERM or SIGINT arrived and `close` finished (it stops accepting,
 * finishes in-flight work and flushes); a failed close sets exit code 1.
 */
export function serveUntilSignal(name: string, close: () => Promise<void>, log?: (line: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log?.(`${signal}: shutting down`);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      close().then(resolve, (err: unknown) => {
        console.error(`${name}: shutting down failed:`, err);
        process.exitCode = 1;
        resolve();
      });
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/**
 * The width to wrap help at: only when help was asked for. yargs renders the whole help text when
 * any command starts (to keep it for later), and wrapping it costs about 100 ms of every start.
 */
export function helpWidth(argv: readonly string[] = process.argv.slice(2)): number | null {
  return argv.some((a) => a === '--help' || a === '-h') ? Math.min(110, process.stdout.columns || 100) : null;
}
