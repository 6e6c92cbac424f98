// The progress display while a vault loads, on a terminal only: a spinner with the elapsed time,
// and a bar with the count of events replayed once the engine reports its progress (ink).

export interface ProgressState {
  /** What is happening, e.g. "loading the vault ~/.local/share/ate/vault-ab12cd34". */
  readonly phase: string;
  /** Events replayed so far, when the engine reports it. */
  readonly events?: number;
  /** Bytes of log read so far and in all, when the engine reports them. */
  readonly bytes?: number;
  readonly totalBytes?: number;
}

export interface Progress {
  update(state: Partial<ProgressState>): void;
  /** Removes the display (nothing of it stays on the terminal). */
  stop(): Promise<void>;
}

/** A display that shows nothing (not a terminal). */
export const noProgress: Progress = { update: () => undefined, stop: async () => undefined };

/** Shows progress on `stream` if it is a terminal; else nothing. */
export async function startProgress(stream: NodeJS.WriteStream, initial: ProgressState): Promise<Progress> {
  // A terminal that reports no width (some pseudo-terminals) would get one character per line.
  if (!stream.isTTY || !(stream.columns >= 20)) return noProgress;
  const { renderProgress } = await import('./progress-view.js');
  return renderProgress(stream, initial);
}
