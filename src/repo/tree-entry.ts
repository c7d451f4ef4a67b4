// One change of a tree edit, shared by the Repo API (repo.ts) and the native binding's types
// (native.ts) without either importing the other.

/** One change of a tree edit: a file by checksum, a directory (with its dirmeta), or a removal. */
export type TreeEntry =
  | { path: string; kind: 'file'; checksum: string }
  | { path: string; kind: 'dir'; metadata?: string }
  | { path: string; kind: 'remove' };
