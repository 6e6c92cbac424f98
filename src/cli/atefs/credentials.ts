// The email, password and authenticator code a command needs, from wherever they are given:
// arguments, ATE_PASSWORD / ATE_CODE, a form on the terminal, or the lines of standard input
// (password first, then code) when it is not a terminal. Never a prompt in scripted use.
import { passwordProblem } from '../../server/auth/policy.js';
import { UsageError } from '../run.js';
import { canPrompt } from './prompt.js';
import type { Question } from './ask-view.js';

export interface Wanted {
  readonly email?: string;
  readonly password?: string;
  readonly code?: string;
  /** Ask for the code too (sudo). */
  readonly needCode?: boolean;
  /** A new password: typed twice at the prompt and held to the strength floor. */
  readonly newPassword?: boolean;
  /** The command, for messages: 'user create'. */
  readonly command: string;
}

export interface Credentials {
  readonly email: string;
  readonly password: string;
  readonly code?: string;
}

let stdinLines: Promise<string[]> | undefined;

/** The lines of standard input, read once (for scripted use). */
function readStdinLines(): Promise<string[]> {
  stdinLines ??= new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.on('end', () => resolve(text.split(/\r?\n/)));
    process.stdin.on('error', reject);
  });
  return stdinLines;
}

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

export async function credentials(w: Wanted): Promise<Credentials> {
  let email = w.email;
  let password = w.password ?? env('ATE_PASSWORD');
  let code = w.needCode ? (w.code ?? env('ATE_CODE')) : undefined;
  const missing = email === undefined || password === undefined || (w.needCode && code === undefined);
  if (missing && canPrompt()) {
    const questions: Question[] = [];
    if (email === undefined) questions.push({ name: 'email', label: 'Email: ', hidden: false });
    if (password === undefined) {
      const emailOf = (a: Readonly<Record<string, string>>): string => email ?? a['email'] ?? '';
      if (w.newPassword) {
        questions.push({
          name: 'password',
          label: 'Choose a password: ',
          hidden: true,
          check: (v, a) => {
            const problem = passwordProblem(v, emailOf(a));
            return problem ? { problem, redo: 'password' } : undefined;
          },
        });
        questions.push({ name: 'again', label: 'Type it again: ', hidden: true, check: (v, a) => (v === a['password'] ? undefined : { problem: 'the two passwords differ', redo: 'password' }) });
      } else {
        questions.push({ name: 'password', label: 'Password: ', hidden: true });
      }
    }
    if (w.needCode && code === undefined) questions.push({ name: 'code', label: 'Authenticator code: ', hidden: false });
    const { ask } = await import('./ask-view.js');
    const answers = await ask(questions);
    email ??= answers['email'];
    password ??= answers['password'];
    if (w.needCode) code ??= answers['code'];
  } else if (missing) {
    if (email === undefined) throw new UsageError(`name the email: atefs ${w.command} <email> (see atefs ${w.command} --help)`);
    const lines = password === undefined || (w.needCode && code === undefined) ? await readStdinLines() : [];
    if (password === undefined) password = lines.shift() || undefined;
    if (password === undefined) throw new UsageError(`give the password: ATE_PASSWORD=..., a line on standard input, or run atefs ${w.command} on a terminal`);
    if (w.needCode && code === undefined) code = lines.shift()?.trim() || undefined;
    if (w.needCode && code === undefined) throw new UsageError(`give the authenticator code: --code, ATE_CODE=..., the line after the password on standard input, or a terminal`);
  }
  if (w.newPassword) {
    const problem = passwordProblem(password!, email!);
    if (problem) throw new UsageError(problem);
  }
  return { email: email!, password: password!, ...(code !== undefined ? { code: code.trim() } : {}) };
}
