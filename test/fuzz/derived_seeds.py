#!/usr/bin/env python3
"""Writes the seed corpus of the derived-layer harnesses (test/fuzz/corpus/derived_filter and
derived_import): layers at and past the filter's limits (deep and long paths, many components,
many entries, repeated paths), PAX records (long names, xattrs, comments, parked object-store
files), hardlinks in every order, and GNU tar's own sparse files in its four formats. Run once
from the checkout (needs GNU tar); the seeds are committed, nothing runs this at test time.
Many-entry layers are gzip'd and go to derived_import only (its harness decompresses)."""
import gzip
import io
import os
import subprocess
import tarfile
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
OBJ = 'sysroot/ostree/repo/objects/ab/' + 'c' * 62 + '.file'


def entry(name, data=b'', typ=tarfile.REGTYPE, link='', mtime=0, pax=None, mode=None):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    ti.mode = mode if mode is not None else (0o755 if typ == tarfile.DIRTYPE else 0o644)
    ti.linkname = link
    ti.mtime = mtime
    if pax:
        ti.pax_headers = pax
    return ti, (data if typ == tarfile.REGTYPE else None)


def tar(entries, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return b.getvalue()


def pax_record(key, value):
    body = b' ' + key + b'=' + value + b'\n'
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def raw_pax_entry(records, name, data=b'', mtime=0):
    """A PAX `x` header with exactly `records` (repeats allowed), then a ustar file entry."""
    pdata = b''.join(pax_record(k, v) for k, v in records)
    x = tarfile.TarInfo('PaxHeaders/x')
    x.type = tarfile.XHDTYPE
    x.size = len(pdata)
    f = tarfile.TarInfo(name[:99])
    f.size = len(data)
    f.mtime = mtime
    pad = lambda b: b + b'\0' * (-len(b) % 512)
    return x.tobuf(tarfile.USTAR_FORMAT) + pad(pdata) + f.tobuf(tarfile.USTAR_FORMAT) + pad(data)


L, D, S = tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE

seeds = {
    'basic.tar': tar([
        entry('./', typ=D), entry('./usr/', typ=D), entry('./usr/bin/a', b'a' * 700, pax={'SCHILY.xattr.user.x': 'y'}),
        entry('./usr/bin/b', typ=L, link='./usr/bin/a'), entry('./usr/bin/c', typ=S, link='a'),
        entry('etc/conf', b'c'), entry('var/log/x', b'x'), entry('var/lib/l', typ=L, link='var/log/x'),
        entry('run/state', b's'), entry('opt/o', b'o'), entry('usr/share/.wh.gone'), entry('.wh.opt'),
    ]),
    'hardlinks-forward-chain-cycle.tar': tar([
        entry('usr/', typ=D), entry('usr/a', typ=L, link='usr/b'), entry('usr/b', b'b'),
        entry('usr/c', typ=L, link='usr/d'), entry('usr/d', typ=L, link='usr/b'),
        entry('usr/e', typ=L, link='usr/f'), entry('usr/f', typ=L, link='usr/e'),
        entry('usr/g', typ=L, link='usr/dir'), entry('usr/dir/', typ=D), entry('usr/b', typ=L, link='usr/a'),
    ], tarfile.GNU_FORMAT),
    'object-store-parked.tar': tar([
        entry('sysroot/', typ=D),
        entry(OBJ, b'hello', mtime=5, pax={'SCHILY.xattr.user.cap': 'x', 'comment': 'c' * 3000}),
        entry('usr/bin/bash', typ=L, link=OBJ, mtime=5), entry('usr/bin/sh', typ=L, link='/' + OBJ, mtime=5),
        entry('usr/bin/gone', typ=L, link=OBJ.replace('ab/', 'cd/'), mtime=5),
    ]),
    'deep-250.tar': tar([entry('usr/' + 'd/' * 249 + 'f', b'f')]),
    'deep-300.tar': tar([entry('usr/' + 'd/' * 299 + 'f', b'f')]),
    'long-path-4000.tar': tar([entry('usr/' + ('n' * 200 + '/') * 19 + 'f', b'f')], tarfile.GNU_FORMAT),
    'long-path-5000.tar': tar([entry('usr/' + ('n' * 250 + '/') * 20 + 'f', b'f')]),
    'components-1100.tar': tar([entry('usr/' + './' * 1100 + 'f', b'f')]),
    'long-link-targets.tar': tar([
        entry('usr/f', b'f'), entry('usr/s', typ=S, link='x' * 5000), entry('usr/l', typ=L, link='usr/' + './' * 1100 + 'f'),
    ]),
    'pax-records.tar': (raw_pax_entry([(b'path', b'usr/share/' + b'p' * 300), (b'SCHILY.xattr.user.a', b'\x00\xff'),
                                       (b'LIBARCHIVE.xattr.user.b', b'YWJj'), (b'RHT.security.selinux', b'system_u:object_r:usr_t:s0'),
                                       (b'comment', b'x' * 5000), (b'uid', b'4000000000'), (b'SCHILY.filetype', b'socket')],
                                      'usr/placeholder', b'data')
                        + raw_pax_entry([(b'GNU.sparse.name', b'usr/lonely'), (b'GNU.sparse.offset', b'0')], 'usr/x', b'')
                        + raw_pax_entry([(b'GNU.sparse.major', b'1'), (b'GNU.sparse.minor', b'0'),
                                         (b'GNU.sparse.realsize', b'1099511627776'), (b'GNU.sparse.name', b'usr/bomb')],
                                        'usr/GNUSparseFile.1/bomb', b'1\n0\n512\n'.ljust(512, b'\0') + b'z' * 512)
                        + b'\0' * 1024),
    'parked-big-pax.tar': b''.join(
        raw_pax_entry([(b'SCHILY.xattr.user.big', b'y' * 60000)], 'sysroot/ostree/repo/objects/%02x/%062x.file' % (i, i), b'o', 5)
        for i in range(3)) + b'\0' * 1024,
}

many = {
    'many-files.tar.gz': tar([entry('usr/share/d%d/f%d' % (i // 1000, i)) for i in range(8000)], tarfile.GNU_FORMAT),
    'many-dirs.tar.gz': tar([entry('usr/share/d%d/' % i, typ=D) for i in range(5000)], tarfile.GNU_FORMAT),
    'one-path-repeated.tar.gz': tar([entry('usr/a') for _ in range(8000)], tarfile.GNU_FORMAT),
    'many-links.tar.gz': tar([entry('usr/t', b't')] + [entry('usr/l/%d' % i, typ=L, link='usr/t') for i in range(5000)], tarfile.GNU_FORMAT),
    'many-filtered.tar.gz': tar([entry('opt%d/x' % i) for i in range(12000)], tarfile.GNU_FORMAT),
}


def gnu_sparse():
    """GNU tar's own sparse layers, one per format."""
    out = {}
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, 'src')
        os.makedirs(os.path.join(src, 'usr/share'))
        with open(os.path.join(src, 'usr/share/sparse'), 'wb') as f:
            f.truncate(65536)
            f.seek(8192)
            f.write(b'A' * 3000)
            f.seek(40000)
            f.write(b'B' * 10)
        with open(os.path.join(src, 'usr/share/hole-at-end'), 'wb') as f:
            f.write(b'C' * 100)
            f.truncate(32768)
        for name, args in [('sparse-pax-1.0.tar', ['--format=pax']), ('sparse-pax-0.0.tar', ['--format=pax', '--sparse-version=0.0']),
                           ('sparse-pax-0.1.tar', ['--format=pax', '--sparse-version=0.1']), ('sparse-gnu-old.tar', ['--format=gnu'])]:
            out[name] = subprocess.run(['tar', '--sparse', *args, '--owner=0', '--group=0', '--mtime=@0', '-C', src, '-cf', '-', 'usr'],
                                       check=True, capture_output=True).stdout
    return out


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), 'wb') as f:
        f.write(data)


for name, data in {**seeds, **gnu_sparse()}.items():
    for target in ('derived_filter', 'derived_import'):
        write(target, name, data)
for name, data in many.items():
    write('derived_import', name, gzip.compress(data, 9, mtime=0))
