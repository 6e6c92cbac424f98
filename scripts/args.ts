// Command-line flags of the benchmark scripts: --help prints the usage, a bad flag or a value that
// is not a positive number ends in one line and exit code 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export function scriptArgs<O extends Options>(usage: string, options: O): ReturnType<typeof parseArgs<{ options: O }>>['values'] {
  const all = { ...options, help: { type: 'boolean' as const } };
  try {
    const { values } = parseArgs({ options: all });
    if ((values as { help?: boolean }).help) {
      process.stdout.write(`usage: ${usage}\n`);
      process.exit(0);
    }
    return values as ReturnType<typeof parseArgs<{ options: O }>>['values'];
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: ${usage}\n`);
    process.exit(2);
  }
}

/** A flag's value as a positive number, or one line and exit code 2. */
export function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!(n > 0)) {
    process.stderr.write(`--${name} must be a positive number, not ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}
