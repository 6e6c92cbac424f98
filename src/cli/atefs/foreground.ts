// The foreground mount's reporter: the summary on stdout, notices on stderr, progress on a terminal.
import { startProgress } from './progress.js';
import type { Reporter } from './serve.js';

export function foregroundReporter(verbose: number): Reporter {
  return {
    daemon: false,
    interactive: true,
    notice: (line) => console.error(`atefs: ${line}`),
    detail: (line) => {
      if (verbose > 0) console.error(`atefs: ${line}`);
    },
    mounted: (line) => console.log(line),
    progress: (phase) => startProgress(process.stderr, { phase }),
  };
}
