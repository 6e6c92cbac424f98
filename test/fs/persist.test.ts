// Remount persistence, encryption at rest, read-only mounts, orphans and a wrong key.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { MissingReadKeyError, generateSymmetricKey, userSession } from '../../src/core/index.js';
import { mountFs } from '../../src/fs/index.js';
import { ANCHOR_KEY, ORPHANS } from '../../src/fs/model.js';
import { mountFixture, openChain, py, sh, shOk } from './helpers.js';

/** Every entry under a root: type, mode, size, nlink, mtime, symlink target, xattrs, content hash. */
const MANIFEST = String.raw`
import os, sys, json, hashlib, stat
root = sys.argv[1]
out = {}
inos = {}
for dirpath, dirs, files in os.walk(root):
    for name in sorted(dirs + files):
        p = os.path.join(dirpath, name); rel = os.path.relpath(p, root)
        st = os.lstat(p)
        e = {'mode': oct(st.st_mode), 'nlink': st.st_nlink, 'mtime': st.st_mtime_ns // 1000000, 'uid': st.st_uid, 'gid': st.st_gid}
        inos.setdefault(st.st_ino, []).append(rel)
        if stat.S_ISLNK(st.st_mode): e['target'] = os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            e['size'] = st.st_size
            with open(p, 'rb') as h: e['sha'] = hashlib.sha256(h.read()).hexdigest()
        if not stat.S_ISLNK(st.st_mode):
            e['xattrs'] = {n: os.getxattr(p, n).hex() for n in sorted(os.listxattr(p))}
        out[rel] = e
out['#links'] = sorted(sorted(v) for v in inos.values() if len(v) > 1)
print(json.dumps(out, sort_keys=True))
`;

const MARKER = 'PLAINTEXT-MARKER-7f3a9c';

test('remount: everything written is there after unmount, chain close and reopen', { timeout: 120_000 }, async () => {
  const fx = await mountFixture({}, 'atefs-persist');
  try {
    const m = fx.mnt;
    await shOk(
      `set -e; cd ${m}; mkdir -p a/b/c; for i in $(seq 1 40); do echo "file $i ${MARKER}" > a/b/f$i; done; ` +
        `head -c 5000000 /dev/urandom > a/big; truncate -s 10M a/sparse; printf end >> a/sparse; ` +
        `ln -s b/f1 a/sym; ln a/big a/big2; mkfifo a/fifo; chmod 600 a/b/f2; chown 12:34 a/b/f3; ` +
        `touch -d '2011-11-11 11:11:11' a/b/f4; setfattr -n user.k -v value a/b/f5 2>/dev/null || true; ` +
        `mv a/b/f6 a/c-renamed; rm a/b/f7; rmdir a/b/c; ` +
        `python3 -c "import os; fd=os.open('a/synced', os.O_CREAT|os.O_WRONLY); os.write(fd, b'synced'); os.fsync(fd)"`,
    );
    const before = await py<Record<string, unknown>>(MANIFEST, [m]);
    await fx.remount();
    const after = await py<Record<string, unknown>>(MANIFEST, [m]);
    assert.deepEqual(after, before);
    assert.ok(Object.keys(before).length > 45);

    // Encrypted at rest: the marker written 40 times appears nowhere in the log.
    const files = await readdir(fx.logPath, { recursive: true });
    let bytes = 0;
    for (const f of files) {
      const b = await readFile(join(fx.logPath, f)).catch(() => undefined);
      if (!b) continue;
      bytes += b.length;
      assert.equal(b.includes(MARKER), false, `${f} holds plaintext`);
      assert.equal(b.includes('c-renamed'), false, `${f} holds a plaintext file name`);
    }
    assert.ok(bytes > 5_000_000, 'the log holds the data');
  } finally {
    await fx.cleanup();
  }
});

test('unlinked open files are deleted at their last close; nothing is left as an orphan', async () => {
  const fx = await mountFixture({}, 'atefs-orphan');
  try {
    const objectsBefore = fx.chain.view.objects.size;
    await py(
      String.raw`
import os, sys, json
p = os.path.join(sys.argv[1], 'victim')
fd = os.open(p, os.O_CREAT | os.O_RDWR)
os.write(fd, os.urandom(1 << 20))
os.fsync(fd)
os.unlink(p)
os.write(fd, b'more')
os.close(fd)
print('{}')
`,
      [fx.mnt],
    );
    await fx.fs.flush();
    assert.equal(fx.chain.view.childrenOf(ANCHOR_KEY, ORPHANS).size, 0);
    // the file's inode and chunks are gone (only the root's times changed)
    assert.equal(fx.chain.view.objects.size, objectsBefore);
  } finally {
    await fx.cleanup();
  }
});

test('read-only mount: reads work, every change is EROFS', async () => {
  const fx = await mountFixture({}, 'atefs-ro');
  try {
    await shOk(`echo data > ${fx.mnt}/f && mkdir ${fx.mnt}/d`);
    await fx.stop();
    const { builder, chain, session } = await openChain(fx.logPath, fx.keys);
    const ro = await mountFs({ mountPoint: fx.mnt, chain, session, rootReaders: [{ kind: 'symmetric', key: fx.keys.vault }], readOnly: true, log: () => undefined });
    try {
      assert.equal((await shOk(`cat ${fx.mnt}/f`)).trim(), 'data');
      for (const cmd of [`echo x > ${fx.mnt}/g`, `echo x >> ${fx.mnt}/f`, `mkdir ${fx.mnt}/e`, `rm ${fx.mnt}/f`, `chmod 600 ${fx.mnt}/f`, `mv ${fx.mnt}/f ${fx.mnt}/h`]) {
        const r = await sh(cmd);
        assert.notEqual(r.code, 0, cmd);
        assert.match(r.stderr, /Read-only file system/, cmd);
      }
    } finally {
      await ro.unmount();
      await builder.close();
    }
  } finally {
    await fx.cleanup();
  }
});

test('a session without the vault key cannot mount the filesystem', async () => {
  const fx = await mountFixture({}, 'atefs-key');
  try {
    await shOk(`echo secret > ${fx.mnt}/f`);
    await fx.stop();
    const { builder, chain } = await openChain(fx.logPath, fx.keys);
    try {
      const wrong = userSession({ readKeys: [generateSymmetricKey()], writeKeys: [fx.keys.writer] });
      await assert.rejects(
        mountFs({ mountPoint: fx.mnt, chain, session: wrong, rootReaders: [{ kind: 'symmetric', key: fx.keys.vault }], log: () => undefined }),
        MissingReadKeyError,
      );
    } finally {
      await builder.close();
    }
  } finally {
    await fx.cleanup();
  }
});

test('concurrent changes from several processes stay consistent across a remount', { timeout: 120_000 }, async () => {
  const fx = await mountFixture({}, 'atefs-conc');
  try {
    const m = fx.mnt;
    const worker = (w: number): string =>
      `for i in $(seq 1 60); do echo "w${w} $i" > ${m}/d/w${w}-$i; mkdir -p ${m}/d/sub$((i % 5)); mv ${m}/d/w${w}-$i ${m}/d/sub$((i % 5))/w${w}-$i; ` +
      `if [ $((i % 3)) = 0 ]; then rm ${m}/d/sub$((i % 5))/w${w}-$i; fi; ln -f ${m}/d/sub$((i % 5))/w${w}-$i ${m}/d/h${w} 2>/dev/null; done`;
    await shOk(`mkdir ${m}/d && (${[1, 2, 3, 4].map((w) => `(${worker(w)}) &`).join(' ')} wait)`, { timeoutMs: 110_000 });
    // sleep: another name's cached nlink lasts until attr_timeout (libfuse's high-level API, see errno.test.ts)
    const listing = async (): Promise<string> => shOk(`sleep 1.2; cd ${m} && find . -printf '%p %y %s %n\\n' | sort && cat d/sub*/* | sort | md5sum`);
    const before = await listing();
    await fx.remount();
    assert.equal(await listing(), before);
    // 4 workers x 60 files, a third removed
    assert.equal((await shOk(`ls ${m}/d/sub* | grep -c '^w'`)).trim(), '160');
  } finally {
    await fx.cleanup();
  }
});

test('mounted with new readers, the filesystem is re-keyed for exactly them: old keys stop opening it, and what follows is under a new data key', async () => {
  const fx = await mountFixture({}, 'atefs-rekey');
  try {
    await shOk(`echo shared > ${fx.mnt}/f`);
    await fx.stop();
    const replaced = generateSymmetricKey();
    const mountWith = async (readKeys: ReturnType<typeof generateSymmetricKey>[], rootReaders = readKeys): Promise<string> => {
      const { builder, chain } = await openChain(fx.logPath, fx.keys);
      try {
        const session = userSession({ readKeys, writeKeys: [fx.keys.writer] });
        const m = await mountFs({ mountPoint: fx.mnt, chain, session, rootReaders: rootReaders.map((key) => ({ kind: 'symmetric', key })), log: () => undefined });
        try {
          await shOk(`echo written after > ${fx.mnt}/g`);
          return (await shOk(`cat ${fx.mnt}/f`)).trim();
        } finally {
          await m.unmount();
        }
      } finally {
        await builder.close();
      }
    };
    // Someone holding the old key and the new one (a group's delegate after a member left).
    const dataKeys = async (): Promise<number> => {
      const { builder, chain } = await openChain(fx.logPath, fx.keys);
      try {
        const hints = new Set<string>();
        for (let i = 0; i < chain.count; i++) {
          const hint = (await chain.readEvent(i)).meta.confidentiality;
          if (hint) hints.add(Buffer.from(hint).toString('hex'));
        }
        return hints.size;
      } finally {
        await builder.close();
      }
    };
    assert.equal(await dataKeys(), 1);
    assert.equal(await mountWith([fx.keys.vault, replaced], [replaced]), 'shared');
    assert.equal(await dataKeys(), 2, 'what is written after the re-key is under a new data key, which the old key never opened');
    assert.equal(await mountWith([replaced]), 'shared', 'the new key opens it');
    await assert.rejects(mountWith([fx.keys.vault]), MissingReadKeyError, 'the old key no longer does');
  } finally {
    await fx.cleanup();
  }
});
