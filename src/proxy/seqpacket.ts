// The addon's SOCK_SEQPACKET slice (native/proxy/seqpacket.cc).
import { native } from '../native.js';

export interface SeqpacketMessage {
  data: Buffer;
  /** Received descriptors (O_CLOEXEC); the receiver owns and must close them. */
  fds: number[];
}

export interface SeqpacketSocket {
  /** The socket's fd, or -1 once closed. */
  readonly fd: number;
  /** Sends one datagram with `fds` attached (SCM_RIGHTS). Never blocks. */
  send(data: Buffer | string, fds?: number[]): void;
  /** Next datagram of at most `maxSize` bytes, or null once the peer closed (or we did). */
  recv(maxSize?: number): Promise<SeqpacketMessage | null>;
  /** Closes the socket; a pending `recv` resolves null. */
  close(): void;
}

interface SeqpacketNative {
  seqpacket: {
    socketpair(): [number, number];
    strerror(errno: number): string;
    Socket: new (fd: number) => SeqpacketSocket;
  };
}

export function seqpacket(): SeqpacketNative['seqpacket'] {
  return native<SeqpacketNative>().seqpacket;
}
