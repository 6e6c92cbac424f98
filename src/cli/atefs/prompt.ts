// A hidden prompt on the terminal (for passcodes): nothing typed is echoed.
import { CliError, EXIT_INTERRUPTED } from '../run.js';

/** Whether a prompt can be shown: standard input is a terminal. */
export const canPrompt = (): boolean => process.stdin.isTTY === true && typeof process.stdin.setRawMode === 'function';

export function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  const output = process.stderr;
  output.write(question);
  input.setRawMode(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
    };
    const onData = (chunk: string): void => {
      const chars = Array.from(chunk);
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === '\r' || ch === '\n') {
          finish();
          // What came after the Enter (pasted lines) is the next prompt's.
          const rest = chars.slice(i + 1).join('').replace(/^\n/, '');
          if (rest) input.unshift(rest, 'utf8');
          resolve(typed);
          return;
        }
        if (ch === '\u0003' || (ch === '\u0004' && typed === '')) {
          // Ctrl-C, or Ctrl-D on an empty line
          finish();
          reject(new CliError('cancelled; nothing was mounted', EXIT_INTERRUPTED));
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = Array.from(typed).slice(0, -1).join('');
        else if (ch === '\u0015') typed = ''; // Ctrl-U
        else if (ch >= ' ') typed += ch;
      }
    };
    input.on('data', onData);
  });
}
