# A stand-in for journald's native socket, for tests: binds a unix datagram socket at argv[1],
# prints "ready", then one line of JSON per entry received ({"fields": {...}, "memfd": bool,
# "seals": F_GET_SEALS of the memfd}),
# parsing the native protocol (KEY=value lines, or KEY\n<u64 le length><value>\n). An entry that
# arrives as a file descriptor (SCM_RIGHTS, journald's way for big entries) is read from it.
import array, fcntl, json, os, socket, struct, sys

F_GET_SEALS = 1034

def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b'\n', i)
        line = data[i:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            fields[k.decode()] = v.decode()
            i = nl + 1
        else:
            (n,) = struct.unpack('<Q', data[nl + 1:nl + 9])
            fields[line.decode()] = data[nl + 9:nl + 9 + n].decode()
            i = nl + 9 + n + 1
    return fields

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
while True:
    fds = array.array('i')
    data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_LEN(fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    memfd = len(fds) > 0
    seals = None
    if memfd:
        seals = fcntl.fcntl(fds[0], F_GET_SEALS)
        data = os.pread(fds[0], os.fstat(fds[0]).st_size, 0)
        for fd in fds:
            os.close(fd)
    print(json.dumps({'fields': parse(data), 'memfd': memfd, 'seals': seals}), flush=True)
