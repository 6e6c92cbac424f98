// The user journey of issue 6, all real processes: auth-server run; atedb solo --auth; atefs
// create-user and create-token; atefs --token-path <token> mount of a personal chain, written,
// unmounted and mounted again from an empty replica; another user refused; no plaintext in the
// server's logs; a group chain shared with a contributor, who is then removed.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chown, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { connect } from '../../src/core/index.js';
import { totp } from '../../src/server/auth/totp.js';
import { FUSE_USABLE } from '../cli/helpers.js';
import { ATEFS, type AuthSandbox, type Result, assertOneLine, runBin, startAtedb, totpSecretOf, withAuthServer } from './helpers.js';

const execFileAsync = promisify(execFile);
const PASSWORD = 'correct horse battery';
const MARKER = 'plaintext-marker-7f3a9c';

interface Mount {
  readonly dir: string;
  readonly child: ChildProcess;
  stderr(): string;
  readonly exited: Promise<number | string>;
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const content = (path: string): Promise<string | undefined> => readFile(path, 'utf8').catch(() => undefined);

test('issue 6 end to end: personal vaults by token, refusals, no plaintext on the server, a shared group', { skip: !FUSE_USABLE && 'no /dev/fuse here', timeout: 240_000 }, () =>
  withAuthServer(async (s) => {
    const mounts: Mount[] = [];
    const mnt = async (name: string): Promise<string> => {
      const d = join(s.root, 'mnt', name);
      await mkdir(d, { recursive: true });
      return d;
    };
    /** atefs --token-path <token> mount <dir> <url> <log-path>, in the foreground; resolves once mounted. */
    const mount = async (token: string, dir: string, url: string, log: string, extra: string[] = []): Promise<Mount> => {
      const child = spawn(process.execPath, [ATEFS, '--token-path', token, 'mount', ...extra, dir, url, log], { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
      const m = { dir, child, stderr: () => err, exited };
      mounts.push(m);
      let ended: number | string | undefined;
      void exited.then((c) => (ended = c));
      await eventually('the mount', async () => /mounted at/.test(out) || ended !== undefined, 60_000);
      if (ended !== undefined) assert.fail(`atefs mount ended with ${ended}:\n${out}${err}`);
      return m;
    };
    const umount = async (m: Mount): Promise<void> => {
      const r = await runBin(ATEFS, ['umount', m.dir], s.env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await m.exited, 0, m.stderr());
    };
    /** A mount that is refused: one line, a non-zero exit code. */
    const refused = (token: string, dir: string, url: string, log: string): Promise<Result> => s.atefs(['--token-path', token, 'mount', dir, url, log]);

    try {
      // Users and tokens, as SEED.md has them.
      const joeCreated = await s.atefs(['create-user', 'joe@example.com'], { ATE_PASSWORD: PASSWORD });
      assert.equal(joeCreated.code, 0, joeCreated.stderr);
      assert.equal((await s.atefs(['create-user', 'ann@example.com'], { ATE_PASSWORD: PASSWORD })).code, 0);
      const joeToken = join(s.root, 'joe.token');
      const annToken = join(s.root, 'ann.token');
      assert.equal((await s.atefs(['create-token', 'joe@example.com', '--out', joeToken], { ATE_PASSWORD: PASSWORD })).code, 0);
      assert.equal((await s.atefs(['create-token', 'ann@example.com', '--out', annToken], { ATE_PASSWORD: PASSWORD })).code, 0);
      const db = await startAtedb(s);
      const server = `tcp://127.0.0.1:${db.port}`;

      // Joe's personal chain: write, unmount, mount again from a new empty replica.
      const personal = `${server}/example.com/joe/files`;
      const a = await mnt('joe');
      let m = await mount(joeToken, a, personal, join(s.root, 'replica-1'));
      await writeFile(join(a, 'notes.txt'), `${MARKER} one\n`);
      await mkdir(join(a, 'sub'));
      await writeFile(join(a, 'sub', 'big.bin'), Buffer.alloc(300_000, MARKER));
      await umount(m);
      m = await mount(joeToken, a, personal, join(s.root, 'replica-2'));
      assert.equal(await readFile(join(a, 'notes.txt'), 'utf8'), `${MARKER} one\n`);
      assert.ok((await readFile(join(a, 'sub', 'big.bin'))).equals(Buffer.alloc(300_000, MARKER)));
      await umount(m);

      // --impersonate-uid: Joe's new files are stored with his uid from the auth server and shown as
      // the local owner's (a chown to the local owner stores it too); a mount without it shows that uid.
      const joeUid = Number(/\(uid (\d+)\)/.exec(joeCreated.stdout)?.[1]);
      const localUid = process.getuid!();
      assert.ok(Number.isInteger(joeUid) && joeUid !== localUid, joeCreated.stdout);
      m = await mount(joeToken, a, personal, join(s.root, 'replica-3'), ['--impersonate-uid']);
      await writeFile(join(a, 'mine.txt'), 'mine\n');
      assert.equal((await stat(join(a, 'mine.txt'))).uid, localUid);
      assert.equal((await stat(join(a, 'notes.txt'))).uid, localUid, 'stored with the local uid by the mount without the flag');
      await chown(join(a, 'notes.txt'), localUid, -1);
      await umount(m);
      m = await mount(joeToken, a, personal, join(s.root, 'replica-4'));
      assert.equal((await stat(join(a, 'mine.txt'))).uid, joeUid);
      assert.equal((await stat(join(a, 'notes.txt'))).uid, joeUid);
      assert.equal((await stat(join(a, 'sub'))).uid, localUid);
      await umount(m);

      // Ann cannot open Joe's chain.
      assertOneLine(await refused(annToken, await mnt('ann-at-joe'), personal, join(s.root, 'replica-ann')), /refused \/example\.com\/joe\/files: ann@example\.com has no access/);

      // The server's logs hold no plaintext.
      const logFiles = await filesUnder(db.logs);
      assert.ok(logFiles.length > 0);
      for (const f of logFiles) assert.ok(!(await readFile(f)).includes(MARKER), `${f} holds plaintext`);

      // A group: Joe (owner and delegate) creates it, adds Ann as a contributor.
      const code = totp(totpSecretOf(joeCreated.stdout), Date.now());
      const joeSudo = join(s.root, 'joe.sudo');
      assert.equal((await s.atefs(['token', 'sudo', 'joe@example.com', PASSWORD, code, '--out', joeSudo])).code, 0);
      assert.equal((await s.atefs(['--token-path', joeSudo, 'group', 'create', 'team'])).code, 0);
      assert.equal((await s.atefs(['group', 'add-user', 'team', 'contributor', 'ann@example.com', '--token-path', joeToken])).code, 0);
      const annGathered = join(s.root, 'ann.team.token');
      assert.equal((await s.atefs(['token', 'gather', 'team', '--token-path', annToken, '--out', annGathered])).code, 0);

      // Both mount the group chain (Joe first: the delegate creates the filesystem), both read and write.
      const group = `${server}/team`;
      const auth = ['--auth', s.url];
      const j = await mnt('joe-team');
      const n = await mnt('ann-team');
      const joeTeam = await mount(joeToken, j, group, join(s.root, 'replica-joe-team'), auth);
      await writeFile(join(j, 'from-joe.txt'), 'hello ann\n');
      const annTeam = await mount(annToken, n, group, join(s.root, 'replica-ann-team'), auth);
      await eventually('ann reads joe', async () => (await content(join(n, 'from-joe.txt'))) === 'hello ann\n');
      await writeFile(join(n, 'from-ann.txt'), 'hello joe\n');
      await eventually('joe reads ann', async () => (await content(join(j, 'from-ann.txt'))) === 'hello joe\n');

      // Ann removed: her live mount is cut off, her tokens no longer open the chain.
      const removed = await s.atefs(['group', 'remove-user', 'team', 'contributor', 'ann@example.com', '--token-path', joeToken]);
      assert.equal(removed.code, 0, removed.stderr);
      await eventually('ann is cut off', async () => /refused \/team: ann@example.com has no access/.test(annTeam.stderr()));
      await writeFile(join(j, 'after.txt'), `${MARKER} after the removal\n`);
      await writeFile(join(j, 'from-joe.txt'), 'changed after the removal\n');
      const joeView = await readFile(join(j, 'after.txt'), 'utf8');
      assert.match(joeView, /after the removal/);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await content(join(n, 'after.txt')), undefined, 'ann does not see what is written after her removal');
      assert.equal(await content(join(n, 'from-joe.txt')), 'hello ann\n');
      await umount(annTeam);

      const fresh = join(s.root, 'ann.fresh.token');
      assert.equal((await s.atefs(['create-token', 'ann@example.com', '--out', fresh], { ATE_PASSWORD: PASSWORD })).code, 0);
      assertOneLine(await refused(fresh, await mnt('ann-team-2'), group, join(s.root, 'replica-ann-team-2')), /ann@example.com holds no role in group team/);
      // Her token gathered before the removal holds the old role keys, which atedb no longer takes.
      const answer = await subscribeOnce(s, db.port, '/team', (await readFile(annGathered, 'utf8')).trim());
      assert.equal(answer.t, 'refused');
      assert.match(answer.message ?? '', /ann@example.com has no access to \/team/);

      // Joe still reads and writes, also from a new replica.
      await umount(joeTeam);
      const again = await mount(joeToken, j, group, join(s.root, 'replica-joe-team-2'), auth);
      assert.equal(await readFile(join(j, 'from-ann.txt'), 'utf8'), 'hello joe\n');
      assert.equal(await readFile(join(j, 'from-joe.txt'), 'utf8'), 'changed after the removal\n');
      await umount(again);

      for (const f of await filesUnder(db.logs)) assert.ok(!(await readFile(f)).includes(MARKER), `${f} holds plaintext`);
    } finally {
      for (const m of mounts) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
      for (const m of mounts) await execFileAsync('fusermount', ['-u', '-z', m.dir]).catch(() => undefined);
    }
  }),
);

/** The first answer of atedb to a subscribe with `token`. */
async function subscribeOnce(s: AuthSandbox, port: number, chain: string, token: string): Promise<{ t: string; message?: string }> {
  const conn = await connect({ host: '127.0.0.1', port, encryption: 128, knownServersPath: join(s.root, 'known_servers.raw') });
  try {
    return await new Promise((resolve, reject) => {
      conn.onMessage = (msg) => resolve(msg);
      conn.onClose = (e) => reject(e ?? new Error('closed'));
      conn.send({ t: 'subscribe', chain, from: 0, token });
    });
  } finally {
    conn.close();
  }
}
