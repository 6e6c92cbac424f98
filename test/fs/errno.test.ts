// The errno matrix: every operation's error cases on a real mount, run by a python3 child
// (it can call every syscall, and this process must never block on its own mount).
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/index.js';
import { mountFs } from '../../src/fs/index.js';
import { mountFixture, py } from './helpers.js';

const MATRIX = String.raw`
import os, sys, json, errno, stat, time, ctypes, ctypes.util
M = sys.argv[1]
os.chdir(M)
libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
R = {}
def E(name, fn):
    try:
        fn(); R[name] = 0
    except OSError as e:
        R[name] = errno.errorcode.get(e.errno, e.errno)
def V(name, value):
    R[name] = value
def write(p, data, mode='wb'):
    with open(p, mode) as f: f.write(data)
def read(p):
    with open(p, 'rb') as f: return f.read()
def C(name, rc):
    R[name] = 0 if rc == 0 else errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())

os.mkdir('d'); write('d/f', b'hello'); os.mkdir('e'); os.mkdir('ne'); write('ne/x', b'x')

# lookups
E('stat missing', lambda: os.stat('nope'))
E('stat under a file', lambda: os.stat('d/f/x'))
E('stat name of 256 bytes', lambda: os.stat('a' * 256))
E('create name of 256 bytes', lambda: write('a' * 256, b''))
E('mkdir name of 256 bytes', lambda: os.mkdir('b' * 256))
E('create name of 255 bytes', lambda: write('c' * 255, b'ok'))
V('255-byte name listed', ('c' * 255) in os.listdir('.'))
# mkdir / rmdir
E('mkdir existing', lambda: os.mkdir('d'))
E('mkdir in missing parent', lambda: os.mkdir('nope/x'))
E('mkdir under a file', lambda: os.mkdir('d/f/x'))
E('rmdir non-empty', lambda: os.rmdir('ne'))
E('rmdir a file', lambda: os.rmdir('d/f'))
E('rmdir missing', lambda: os.rmdir('nope'))
os.mkdir('sub'); n0 = os.stat('.').st_nlink; os.mkdir('sub/a'); os.mkdir('sub/b')
V('dir nlink counts subdirectories', os.stat('sub').st_nlink)
E('rmdir empty', lambda: os.rmdir('sub/a'))
V('dir nlink after rmdir', os.stat('sub').st_nlink)
# create / open
E('O_EXCL on existing', lambda: os.close(os.open('d/f', os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
E('open missing', lambda: os.open('nope', os.O_RDONLY))
E('open dir for write', lambda: os.open('d', os.O_WRONLY))
E('open dir read-only', lambda: os.close(os.open('d', os.O_RDONLY)))
fd = os.open('d', os.O_RDONLY)
E('read a directory fd', lambda: os.read(fd, 10))
os.close(fd)
write('t', b'0123456789')
os.close(os.open('t', os.O_WRONLY | os.O_TRUNC))
V('O_TRUNC empties', os.stat('t').st_size)
# unlink
E('unlink a dir', lambda: os.unlink('d'))
E('unlink missing', lambda: os.unlink('nope'))
write('u', b'still here')
fd = os.open('u', os.O_RDWR)
os.unlink('u')
V('unlinked gone from listing', 'u' in os.listdir('.'))
V('unlinked open file readable', os.pread(fd, 100, 0).decode())
os.pwrite(fd, b'!', 10)
V('unlinked open file writable', os.pread(fd, 100, 0).decode())
os.close(fd)
V('no .fuse_hidden left', [n for n in os.listdir('.') if n.startswith('.fuse_hidden')])
os.mkdir('hd'); write('hd/f', b'x'); fd = os.open('hd/f', os.O_RDONLY); os.unlink('hd/f')
E('rmdir holding an unlinked open file', lambda: os.rmdir('hd'))
os.close(fd)
E('rmdir once it is closed', lambda: os.rmdir('hd'))
# rename
write('r1', b'one'); write('r2', b'two')
E('rename file over file', lambda: os.rename('r1', 'r2'))
V('rename replaced content', read('r2').decode())
V('rename source gone', os.path.exists('r1'))
os.mkdir('rd1'); write('rd1/in', b'in'); os.mkdir('rd2')
E('rename dir over empty dir', lambda: os.rename('rd1', 'rd2'))
V('renamed dir content', read('rd2/in').decode())
os.mkdir('rd3')
E('rename dir over non-empty dir', lambda: os.rename('rd3', 'rd2'))
E('rename file over dir', lambda: os.rename('r2', 'rd3'))
E('rename dir over file', lambda: os.rename('rd3', 'r2'))
E('rename dir into its own subtree', lambda: os.rename('rd2', 'rd2/in2'))
E('rename missing', lambda: os.rename('nope', 'x'))
E('rename into missing dir', lambda: os.rename('r2', 'nope/x'))
E('rename to 256-byte name', lambda: os.rename('r2', 'z' * 256))
E('rename onto itself', lambda: os.rename('r2', 'r2'))
fd = os.open('r2', os.O_RDONLY); write('r3', b'three')
E('rename over an open file', lambda: os.rename('r3', 'r2'))
V('open replaced file keeps its data', os.pread(fd, 100, 0).decode())
os.close(fd)
V('rename across dirs keeps nlink right', (os.mkdir('m1'), os.mkdir('m1/k'), os.mkdir('m2'), os.rename('m1/k', 'm2/k'), os.stat('m1').st_nlink, os.stat('m2').st_nlink)[-2:])
renameat2 = getattr(libc, 'renameat2', None)
if renameat2:
    write('nr1', b''); write('nr2', b'')
    C('renameat2 RENAME_NOREPLACE onto existing', renameat2(-100, b'nr1', -100, b'nr2', 1))
    C('renameat2 RENAME_NOREPLACE onto new name', renameat2(-100, b'nr1', -100, b'nr3', 1))
# link
write('l1', b'link')
E('link', lambda: os.link('l1', 'l2'))
V('link nlink', os.stat('l1').st_nlink)
V('link same ino', os.stat('l1').st_ino == os.stat('l2').st_ino)
os.unlink('l1')
# libfuse's high-level API gives each name its own kernel inode: the other name's cached nlink lasts until attr_timeout (1 s).
time.sleep(1.1)
V('link nlink after unlink', os.stat('l2').st_nlink)
V('link content', read('l2').decode())
E('link a dir', lambda: os.link('d', 'd2'))
E('link onto existing', lambda: os.link('l2', 'd/f'))
E('link missing', lambda: os.link('nope', 'x'))
# symlink / readlink
E('symlink', lambda: os.symlink('d/f', 's'))
V('readlink', os.readlink('s'))
V('read through symlink', read('s').decode())
E('symlink onto existing', lambda: os.symlink('x', 's'))
E('readlink a file', lambda: os.readlink('d/f'))
V('symlink lstat', stat.S_ISLNK(os.lstat('s').st_mode))
# truncate
E('truncate a dir', lambda: os.truncate('d', 0))
E('truncate negative', lambda: os.truncate('d/f', -1))
write('tr', bytes(range(256)) * 1024)
os.truncate('tr', 1000); os.truncate('tr', 3000)
d = read('tr')
V('truncate shrink then grow', [len(d), d[:1000] == (bytes(range(256)) * 4)[:1000], d[1000:] == bytes(2000)])
fd = os.open('tr', os.O_RDONLY)
E('ftruncate read-only fd', lambda: os.ftruncate(fd, 0))
os.close(fd)
# times
write('tm', b'x')
os.utime('tm', (1000000000.25, 2000000000.5))
st = os.stat('tm')
V('utimens atime mtime', [st.st_atime, st.st_mtime])
before = os.stat('tm').st_ctime_ns; time.sleep(0.02); os.chmod('tm', 0o600)
st = os.stat('tm')
V('chmod sets ctime, not mtime', [st.st_ctime_ns > before, st.st_mtime == 2000000000.5])
dm = os.stat('d').st_mtime_ns; time.sleep(0.02); write('d/new', b'')
V('create updates dir mtime', os.stat('d').st_mtime_ns > dm)
fm = os.stat('d/new').st_mtime_ns; time.sleep(0.02); write('d/new', b'more', 'ab')
V('write updates mtime', os.stat('d/new').st_mtime_ns > fm)
# chmod / chown
write('own', b'')
os.chmod('own', 0o4751)
V('chmod mode', oct(os.stat('own').st_mode))
os.chown('own', 1234, 5678)
st = os.stat('own'); V('chown', [st.st_uid, st.st_gid])
os.chown('own', -1, 99)
st = os.stat('own'); V('chown -1 keeps uid', [st.st_uid, st.st_gid])
os.chown('own', 0, 0); os.chmod('own', 0o640)
V('chmod keeps owner', os.stat('own').st_uid)
# xattrs
write('x', b'')
E('getxattr missing', lambda: os.getxattr('x', 'user.nope'))
E('setxattr', lambda: os.setxattr('x', 'user.a', b'\x00\x01binary'))
V('getxattr', list(os.getxattr('x', 'user.a')))
E('setxattr XATTR_CREATE existing', lambda: os.setxattr('x', 'user.a', b'v', os.XATTR_CREATE))
E('setxattr XATTR_REPLACE missing', lambda: os.setxattr('x', 'user.b', b'v', os.XATTR_REPLACE))
E('setxattr XATTR_REPLACE existing', lambda: os.setxattr('x', 'user.a', b'new', os.XATTR_REPLACE))
os.setxattr('x', 'user.b', b'bee')
V('listxattr', sorted(os.listxattr('x')))
E('removexattr missing', lambda: os.removexattr('x', 'user.nope'))
E('removexattr', lambda: os.removexattr('x', 'user.b'))
V('listxattr after remove', os.listxattr('x'))
E('setxattr system.posix_acl_access', lambda: os.setxattr('x', 'system.posix_acl_access', b'\x02\x00\x00\x00'))
buf = ctypes.create_string_buffer(1)
C('getxattr small buffer', 0 if libc.getxattr(b'x', b'user.a', buf, ctypes.c_size_t(1)) >= 0 else -1)
V('getxattr size query', libc.getxattr(b'x', b'user.a', None, ctypes.c_size_t(0)))
C('listxattr small buffer', 0 if libc.listxattr(b'x', buf, ctypes.c_size_t(1)) >= 0 else -1)
E('getxattr on missing file', lambda: os.getxattr('nope', 'user.a'))
# access
V('access missing', os.access('nope', os.F_OK))
V('access existing rw', os.access('d/f', os.R_OK | os.W_OK))
# statfs
sv = os.statvfs('.')
V('statfs', [sv.f_bsize, sv.f_namemax, sv.f_blocks > 0, sv.f_bavail > 0, sv.f_files > 0])
# mknod / fifo
E('mkfifo', lambda: os.mkfifo('fifo'))
V('fifo type', stat.S_ISFIFO(os.stat('fifo').st_mode))
E('mknod regular', lambda: os.mknod('reg', stat.S_IFREG | 0o600))
V('mknod regular type', [stat.S_ISREG(os.stat('reg').st_mode), oct(stat.S_IMODE(os.stat('reg').st_mode))])
E('mknod existing', lambda: os.mkfifo('fifo'))
# fallocate / lseek
write('fa', b'abc')
fd = os.open('fa', os.O_RDWR)
E('posix_fallocate extends', lambda: os.posix_fallocate(fd, 0, 100000))
V('posix_fallocate size', os.fstat(fd).st_size)
C('fallocate(2) mode 0', libc.fallocate(fd, 0, ctypes.c_long(0), ctypes.c_long(200000)))
C('fallocate(2) punch hole', libc.fallocate(fd, 3, ctypes.c_long(0), ctypes.c_long(10)))
V('lseek SEEK_END', os.lseek(fd, 0, os.SEEK_END))
V('lseek SEEK_DATA', os.lseek(fd, 0, os.SEEK_DATA))
E('lseek SEEK_DATA past end', lambda: os.lseek(fd, 10**7, os.SEEK_DATA))
os.close(fd)
# sparse file: holes read as zeros
fd = os.open('sparse', os.O_RDWR | os.O_CREAT)
os.pwrite(fd, b'end', 5 * 1024 * 1024)
V('sparse read', [os.fstat(fd).st_size, os.pread(fd, 8, 1024 * 1024) == bytes(8), os.pread(fd, 3, 5 * 1024 * 1024).decode()])
os.close(fd)
V('sparse blocks', os.stat('sparse').st_blocks < 1024)
# readdir
V('readdir', sorted(os.listdir('d')))
V('readdir dot entries', sorted(n for n in os.popen('ls -a d').read().split()))
print(json.dumps(R))
`;

test('errno matrix: every operation and its error cases', { timeout: 120_000 }, async () => {
  const fx = await mountFixture({}, 'atefs-errno');
  try {
    const r = await py<Record<string, unknown>>(MATRIX, [fx.mnt]);
    const expect: Record<string, unknown> = {
      'stat missing': 'ENOENT',
      'stat under a file': 'ENOTDIR',
      'stat name of 256 bytes': 'ENAMETOOLONG',
      'create name of 256 bytes': 'ENAMETOOLONG',
      'mkdir name of 256 bytes': 'ENAMETOOLONG',
      'create name of 255 bytes': 0,
      '255-byte name listed': true,
      'mkdir existing': 'EEXIST',
      'mkdir in missing parent': 'ENOENT',
      'mkdir under a file': 'ENOTDIR',
      'rmdir non-empty': 'ENOTEMPTY',
      'rmdir a file': 'ENOTDIR',
      'rmdir missing': 'ENOENT',
      'dir nlink counts subdirectories': 4,
      'rmdir empty': 0,
      'dir nlink after rmdir': 3,
      'O_EXCL on existing': 'EEXIST',
      'open missing': 'ENOENT',
      'open dir for write': 'EISDIR',
      'open dir read-only': 0,
      'read a directory fd': 'EISDIR',
      'O_TRUNC empties': 0,
      'unlink a dir': 'EISDIR',
      'unlink missing': 'ENOENT',
      'unlinked gone from listing': false,
      'unlinked open file readable': 'still here',
      'unlinked open file writable': 'still here!',
      'no .fuse_hidden left': [],
      // Linux would allow it; libfuse 2 would then lose the open file's path (see Volume.rmdir).
      'rmdir holding an unlinked open file': 'EBUSY',
      'rmdir once it is closed': 0,
      'rename file over file': 0,
      'rename replaced content': 'one',
      'rename source gone': false,
      'rename dir over empty dir': 0,
      'renamed dir content': 'in',
      'rename dir over non-empty dir': 'ENOTEMPTY',
      'rename file over dir': 'EISDIR',
      'rename dir over file': 'ENOTDIR',
      'rename dir into its own subtree': 'EINVAL',
      'rename missing': 'ENOENT',
      'rename into missing dir': 'ENOENT',
      'rename to 256-byte name': 'ENAMETOOLONG',
      'rename onto itself': 0,
      'rename over an open file': 0,
      'open replaced file keeps its data': 'one',
      'rename across dirs keeps nlink right': [2, 3],
      // The kernel answers EEXIST itself; libfuse 2 has no rename2, so a new name gets EINVAL (fuse-native limit).
      'renameat2 RENAME_NOREPLACE onto existing': 'EEXIST',
      'renameat2 RENAME_NOREPLACE onto new name': 'EINVAL',
      link: 0,
      'link nlink': 2,
      'link same ino': true,
      'link nlink after unlink': 1,
      'link content': 'link',
      'link a dir': 'EPERM',
      'link onto existing': 'EEXIST',
      'link missing': 'ENOENT',
      symlink: 0,
      readlink: 'd/f',
      'read through symlink': 'hello',
      'symlink onto existing': 'EEXIST',
      'readlink a file': 'EINVAL',
      'symlink lstat': true,
      'truncate a dir': 'EISDIR',
      'truncate negative': 'EINVAL',
      'truncate shrink then grow': [3000, true, true],
      'ftruncate read-only fd': 'EINVAL',
      'utimens atime mtime': [1000000000.25, 2000000000.5],
      'chmod sets ctime, not mtime': [true, true],
      'create updates dir mtime': true,
      'write updates mtime': true,
      'chmod mode': '0o104751',
      chown: [1234, 5678],
      'chown -1 keeps uid': [1234, 99],
      'chmod keeps owner': 0,
      'getxattr missing': 'ENODATA',
      setxattr: 0,
      getxattr: [0, 1, 98, 105, 110, 97, 114, 121],
      'setxattr XATTR_CREATE existing': 'EEXIST',
      'setxattr XATTR_REPLACE missing': 'ENODATA',
      'setxattr XATTR_REPLACE existing': 0,
      listxattr: ['user.a', 'user.b'],
      'removexattr missing': 'ENODATA',
      removexattr: 0,
      'listxattr after remove': ['user.a'],
      'setxattr system.posix_acl_access': 'ENOTSUP',
      'getxattr small buffer': 'ERANGE',
      'getxattr size query': 3,
      'listxattr small buffer': 'ERANGE',
      'getxattr on missing file': 'ENOENT',
      'access missing': false,
      'access existing rw': true,
      statfs: [4096, 255, true, true, true],
      mkfifo: 0,
      'fifo type': true,
      'mknod regular': 0,
      'mknod regular type': [true, '0o600'],
      'mknod existing': 'EEXIST',
      // fuse-native binds no fallocate: the kernel answers EOPNOTSUPP and glibc's posix_fallocate writes zeros.
      'posix_fallocate extends': 0,
      'posix_fallocate size': 100000,
      'fallocate(2) mode 0': 'ENOTSUP', // ENOTSUP == EOPNOTSUPP on Linux
      'fallocate(2) punch hole': 'ENOTSUP',
      'lseek SEEK_END': 100000,
      'lseek SEEK_DATA': 0,
      'lseek SEEK_DATA past end': 'ENXIO',
      'sparse read': [5 * 1024 * 1024 + 3, true, 'end'],
      'sparse blocks': true,
      readdir: ['f', 'new'],
      'readdir dot entries': ['.', '..', 'f', 'new'],
    };
    if (!('renameat2 RENAME_NOREPLACE onto existing' in r)) {
      delete expect['renameat2 RENAME_NOREPLACE onto existing'];
      delete expect['renameat2 RENAME_NOREPLACE onto new name'];
    }
    const wrong: string[] = [];
    for (const [name, want] of Object.entries(expect)) {
      if (JSON.stringify(r[name]) !== JSON.stringify(want)) wrong.push(`${name}: got ${JSON.stringify(r[name])}, expected ${JSON.stringify(want)}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(Object.keys(r).filter((k) => !(k in expect)), [], 'cases without an expectation');
  } finally {
    await fx.cleanup();
  }
});

test('mount errors: a missing, a file or a non-empty mount point is a ConfigError naming the fix', async () => {
  const fx = await mountFixture({}, 'atefs-mnterr');
  try {
    const base = { chain: fx.chain, session: fx.session, rootReaders: [{ kind: 'symmetric' as const, key: fx.keys.vault }] };
    const missing = join(fx.dir, 'missing');
    await assert.rejects(mountFs({ ...base, mountPoint: missing }), (e: unknown) => e instanceof ConfigError && /does not exist.*mkdir -p/.test((e as Error).message));
    const file = join(fx.dir, 'file');
    await writeFile(file, 'x');
    await assert.rejects(mountFs({ ...base, mountPoint: file }), (e: unknown) => e instanceof ConfigError && /not a directory/.test((e as Error).message));
    const full = join(fx.dir, 'full');
    await mkdir(full);
    await writeFile(join(full, 'x'), 'x');
    await assert.rejects(mountFs({ ...base, mountPoint: full }), (e: unknown) => e instanceof ConfigError && /not empty.*--non-empty/.test((e as Error).message));
    await assert.rejects(mountFs({ ...base, mountPoint: fx.mnt }), (e: unknown) => e instanceof ConfigError && /already a mount point/.test((e as Error).message));
    const second = await mountFs({ ...base, mountPoint: full, nonEmpty: true, log: () => undefined });
    await second.unmount();
    await second.unmount(); // twice is fine
  } finally {
    await fx.cleanup();
  }
});
