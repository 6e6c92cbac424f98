// The ink view of progress.ts (loaded only on a terminal: ink and react take a while to load).
import { useEffect, useState, useSyncExternalStore } from 'react';
import { Box, Text, render } from 'ink';
import type { Progress, ProgressState } from './progress.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 30;

const number = (n: number): string => n.toLocaleString('en-US');

function seconds(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

function ProgressView(props: { store: Store; started: number }) {
  const state = useSyncExternalStore(props.store.subscribe, props.store.get);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 80);
    return () => clearInterval(t);
  }, []);
  const elapsed = now - props.started;
  const frame = FRAMES[Math.floor(elapsed / 80) % FRAMES.length];
  const fraction = state.totalBytes && state.bytes !== undefined ? Math.min(1, state.bytes / state.totalBytes) : undefined;
  return (
    <Box>
      <Text color="cyan">{fraction === undefined ? frame : '╢'}</Text>
      {fraction !== undefined && (
        <Text>
          <Text color="cyan">{'█'.repeat(Math.round(fraction * BAR_WIDTH))}</Text>
          <Text dimColor>{'░'.repeat(BAR_WIDTH - Math.round(fraction * BAR_WIDTH))}</Text>
          <Text color="cyan">╟</Text> {Math.floor(fraction * 100)}%
        </Text>
      )}
      <Text> {state.phase}</Text>
      {state.events !== undefined && <Text dimColor> {number(state.events)} events</Text>}
      <Text dimColor> {seconds(elapsed)}</Text>
    </Box>
  );
}

interface Store {
  get: () => ProgressState;
  set: (s: Partial<ProgressState>) => void;
  subscribe: (fn: () => void) => () => void;
}

function makeStore(initial: ProgressState): Store {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    set: (s) => {
      state = { ...state, ...s };
      for (const fn of listeners) fn();
    },
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

export function renderProgress(stream: NodeJS.WriteStream, initial: ProgressState): Progress {
  const store = makeStore(initial);
  const instance = render(<ProgressView store={store} started={Date.now()} />, {
    stdout: stream,
    stderr: stream,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  let stopped = false;
  return {
    update: (s) => store.set(s),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      instance.clear();
      instance.unmount();
      await instance.waitUntilExit().catch(() => undefined);
    },
  };
}
