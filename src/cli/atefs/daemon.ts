// --daemon: the command starts itself again, detached, with its output in a log file, and waits
// until the child reports that the vault is mounted (or why it is not). The plan and the passcode
// travel over the IPC channel, never on a command line or in the environment.
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError, EXIT_FAILURE, exitCodeOf } from '../run.js';
import { canonicalMountPoint } from './mounts.js';
import type { MountPlan } from './options.js';
import { ateDataDir, shown, vaultNameFor } from './paths.js';
import { type Progress, startProgress } from './progress.js';
import { canPrompt, promptHidden } from './prompt.js';
import { recordPaths } from './registry.js';
import { type Reporter, mountAndServe } from './serve.js';
import type { GivenToken } from './token-source.js';
import { type GivenPasscode, obtainPasscode, readVaultMeta } from './vault.js';

/** Parent to child. */
interface Start {
  readonly t: 'start';
  readonly plan: MountPlan;
  readonly passcode?: GivenPasscode;
  readonly token?: GivenToken;
}

/** Child to parent. */
type Report =
  | { readonly t: 'notice'; readonly line: string }
  | { readonly t: 'phase'; readonly line: string }
  | { readonly t: 'mounted'; readonly line: string }
  | { readonly t: 'failed'; readonly line: string; readonly code: number };

const stamp = (line: string): string => `${new Date().toISOString()} ${line}`;

/** The parent: asks for the passcode if needed, starts the child, reports what it says. */
export async function startDaemon(plan: MountPlan, given: GivenPasscode | undefined, token?: GivenToken): Promise<number> {
  const dataDir = ateDataDir();
  const mountPoint = await canonicalMountPoint(plan.mountPath);
  // The child has no terminal: ask here (and check the passcode of an existing vault here too).
  let passcode = given;
  if (!plan.temp && !passcode && !token && canPrompt()) {
    const dir = plan.logPath ?? join(dataDir, vaultNameFor(mountPoint));
    passcode = (await obtainPasscode(dir, mountPoint, await readVaultMeta(dir), undefined, promptHidden)).passcode;
  }

  const { log } = recordPaths(dataDir, mountPoint);
  await mkdir(join(log, '..'), { recursive: true, mode: 0o700 });
  const out = await open(log, 'a', 0o600);
  await out.write(stamp(`starting atefs mount ${mountPoint} as a daemon\n`));
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'mount', mountPoint, '--daemon-child'], {
    detached: true,
    stdio: ['ignore', out.fd, out.fd, 'ipc'],
    env: { ...process.env, ATE_PASSCODE: '', ATE_TOKEN: '' },
  });
  await out.close();

  const progress: Progress = await startProgress(process.stderr, { phase: `starting the daemon for ${shown(mountPoint)}` });
  try {
    return await new Promise<number>((resolve) => {
      let done = false;
      const finish = (code: number): void => {
        if (done) return;
        done = true;
        child.removeAllListeners();
        if (child.connected) child.disconnect();
        child.unref();
        resolve(code);
      };
      child.on('message', (m: Report) => {
        if (m.t === 'phase') progress.update({ phase: m.line });
        else if (m.t === 'notice') void progress.stop().then(() => console.error(`atefs: ${m.line}`));
        else if (m.t === 'mounted') {
          void progress.stop().then(() => {
            console.log(m.line);
            console.error(`atefs: running in the background (pid ${child.pid}); its output goes to ${shown(log)}`);
            finish(0);
          });
        } else if (m.t === 'failed') {
          void progress.stop().then(() => {
            console.error(`atefs: ${m.line}`);
            finish(m.code);
          });
        }
      });
      child.on('error', (err) => {
        void progress.stop().then(() => {
          console.error(`atefs: cannot start the daemon: ${err.message}`);
          finish(EXIT_FAILURE);
        });
      });
      child.on('exit', (code, signal) => {
        void progress.stop().then(() => {
          console.error(`atefs: the daemon ended (${signal ?? `exit code ${code}`}) before mounting; see ${shown(log)}`);
          finish(EXIT_FAILURE);
        });
      });
      child.send({ t: 'start', plan, ...(passcode ? { passcode } : {}), ...(token ? { token } : {}) } satisfies Start);
    });
  } finally {
    await progress.stop();
  }
}

/** The child: waits for its plan, mounts, reports, and serves until told to stop. */
export async function runDaemonChild(): Promise<number> {
  if (!process.send) throw new CliError('--daemon-child is internal to atefs --daemon', 2);
  const start = await new Promise<Start>((resolve, reject) => {
    process.once('message', (m: Start) => resolve(m));
    process.once('disconnect', () => reject(new CliError('the parent went away before starting the daemon')));
  });
  process.removeAllListeners('disconnect');
  const send = (r: Report): void => {
    if (process.connected) process.send!(r);
  };
  let reported = false;
  const reporter: Reporter = {
    daemon: true,
    interactive: false,
    notice: (line) => {
      console.error(stamp(`atefs: ${line}`));
      if (!reported) send({ t: 'notice', line });
    },
    detail: (line) => {
      if (start.plan.verbose > 0) console.error(stamp(`atefs: ${line}`));
    },
    mounted: (line) => {
      console.log(stamp(line));
      reported = true;
      send({ t: 'mounted', line });
      if (process.connected) process.disconnect();
    },
    progress: async (phase) => {
      send({ t: 'phase', line: phase });
      return { update: (s) => s.phase && send({ t: 'phase', line: s.phase }), stop: async () => undefined };
    },
  };
  try {
    return await mountAndServe(start.plan, start.passcode, reporter, start.token);
  } catch (err) {
    const code = exitCodeOf(err);
    if (!reported) send({ t: 'failed', line: code === 70 ? `internal error (please report it): ${(err as Error)?.stack ?? String(err)}` : (err as Error).message, code });
    if (process.connected) process.disconnect();
    throw err;
  }
}
