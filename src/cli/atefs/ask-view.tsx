// Questions on the terminal with ink: one form for all the values a command misses (email,
// password typed twice, authenticator code). Hidden answers echo nothing. A check can refuse an
// answer and send the user back to an earlier question, three times at most.
import './ink-on-terminal.js';
import { useState } from 'react';
import { Box, Text, render, useInput } from 'ink';
import { CliError, EXIT_INTERRUPTED } from '../run.js';

export interface Question {
  readonly name: string;
  readonly label: string;
  readonly hidden: boolean;
  /** A problem with the answer, and the question to ask again from; undefined when it is fine. */
  readonly check?: (value: string, answers: Readonly<Record<string, string>>) => { readonly problem: string; readonly redo: string } | undefined;
}

const MAX_TRIES = 3;

interface State {
  readonly index: number;
  readonly typed: string;
  readonly answers: Readonly<Record<string, string>>;
  readonly problem?: string;
  readonly failures: number;
}

function Form(props: { questions: readonly Question[]; done: (answers: Record<string, string>) => void; fail: (err: CliError) => void }) {
  const { questions } = props;
  const [state, setState] = useState<State>({ index: 0, typed: '', answers: {}, failures: 0 });

  const step = (s: State, ch: string): State | undefined => {
    if (ch === '\u0003' || (ch === '\u0004' && s.typed === '')) {
      props.fail(new CliError('cancelled; nothing was done', EXIT_INTERRUPTED));
      return undefined;
    }
    if (ch === '\u007f' || ch === '\b') return { ...s, typed: Array.from(s.typed).slice(0, -1).join('') };
    if (ch === '\u0015') return { ...s, typed: '' };
    if (ch !== '\r' && ch !== '\n') return ch >= ' ' ? { ...s, typed: s.typed + ch } : s;
    const q = questions[s.index]!;
    const verdict = q.check?.(s.typed, s.answers);
    if (verdict) {
      if (s.failures + 1 >= MAX_TRIES) {
        props.fail(new CliError(`${verdict.problem}; gave up after ${MAX_TRIES} tries, nothing was done`));
        return undefined;
      }
      const redo = Math.max(0, questions.findIndex((x) => x.name === verdict.redo));
      const kept = Object.fromEntries(Object.entries(s.answers).filter(([k]) => questions.findIndex((x) => x.name === k) < redo));
      return { index: redo, typed: '', answers: kept, problem: `${verdict.problem}, try again`, failures: s.failures + 1 };
    }
    const answers = { ...s.answers, [q.name]: s.typed };
    if (s.index + 1 === questions.length) {
      props.done(answers);
      return undefined;
    }
    return { index: s.index + 1, typed: '', answers, failures: s.failures };
  };

  useInput((input, key) => {
    // Pasted or fast-typed text arrives as one chunk: take it a character at a time.
    const chars = key.return ? ['\r'] : key.backspace || key.delete ? ['\u007f'] : key.ctrl && input === 'c' ? ['\u0003'] : key.ctrl && input === 'd' ? ['\u0004'] : Array.from(input);
    setState((s) => {
      let next: State | undefined = s;
      for (const ch of chars) {
        next = step(next, ch);
        if (!next) return s;
      }
      return next;
    });
  });

  const q = questions[state.index]!;
  return (
    <Box flexDirection="column">
      {state.problem !== undefined && <Text color="yellow">{state.problem}</Text>}
      <Box>
        <Text bold>{q.label}</Text>
        <Text>{q.hidden ? '' : state.typed}</Text>
        {q.hidden && <Text dimColor>{state.typed.length > 0 ? ' (typing, hidden)' : ' (hidden)'}</Text>}
      </Box>
    </Box>
  );
}

/** Asks every question on the terminal (stdin must be one); resolves with the answers by name. */
export async function ask(questions: readonly Question[]): Promise<Record<string, string>> {
  let resolve!: (a: Record<string, string>) => void;
  let reject!: (e: CliError) => void;
  const answered = new Promise<Record<string, string>>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A pseudo-terminal that reports no size would make ink wrap after every character and clear
  // the screen on every frame.
  if (!(process.stderr.columns > 0)) process.stderr.columns = 80;
  if (!(process.stderr.rows > 0)) process.stderr.rows = 24;
  // React runs the effect that starts reading the keyboard on a later turn, through a channel
  // that does not keep node alive: until the answers are in, this timer does.
  const keepAlive = setInterval(() => undefined, 60_000);
  let settled = false;
  const finish = (fn: () => void): void => {
    if (settled) return;
    settled = true;
    setImmediate(() => {
      instance.clear();
      instance.unmount();
      fn();
    });
  };
  const instance = render(<Form questions={questions} done={(a) => finish(() => resolve(a))} fail={(e) => finish(() => reject(e))} />, {
    stdout: process.stderr,
    stderr: process.stderr,
    stdin: process.stdin,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  // Taken now: asked for after the unmount, it would never settle.
  const exited = instance.waitUntilExit().catch(() => undefined);
  try {
    return await answered;
  } finally {
    clearInterval(keepAlive);
    await exited;
    process.stdin.pause();
  }
}
