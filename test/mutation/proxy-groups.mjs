// Stryker on src/proxy one group of files at a time, each with the test files that reach it
// (test/MUTATION.md, proxy):
//   npm run build:ts && PROXY_GROUP=edges npx stryker run test/mutation/proxy-groups.mjs
// Why not `npm run mutate -- --mutate 'src/proxy/**'`: every proxy test file starts skopeo, and
// Stryker estimated 7–14 h for the module's 979 mutants on 2 shared cores.
import { groupConfig } from './groups.mjs';

const GROUPS = {
  // What goes to skopeo before a request (arguments, auth files, policy), the protocol's pipes
  // and sockets, and the whole-blob fetch.
  edges: {
    files: ['config', 'auth', 'policy', 'pipes', 'seqpacket', 'fetch'],
    tests: ['test/unit/proxy-*.test.ts', 'test/integration/proxy-auth.test.ts', 'test/integration/proxy-policy.test.ts'],
  },
  // The proxy client (its requests and their order, images, blobs, exit), the streams of several
  // blobs at once, the pool of proxies and skopeo copy, one file (or part of one) per group, each
  // with the test files that reach it inside their tests. All of them at once ("core", 749
  // mutants) was estimated at 5–8 h: a mutant of code run in a `beforeAll` (skopeo copy) reruns
  // every test file of its group. timeoutMS 10 s: a mutant that leaves a request unanswered makes
  // a test wait, and a timeout counts as killed.
  pool: {
    files: ['pool'],
    tests: ['test/integration/proxy.test.ts', 'test/integration/proxy-faults.test.ts'],
    timeoutMS: 10_000,
  },
  'skopeo-copy': {
    files: ['skopeo-copy'],
    tests: ['test/unit/proxy-config.test.ts', 'test/integration/proxy-faults.test.ts'],
    timeoutMS: 10_000,
  },
  'blob-streams': {
    files: ['blob-streams'],
    tests: ['test/integration/blob-streams.test.ts'],
    timeoutMS: 10_000,
  },
  // image-proxy.ts by line ranges: its helpers (1–224), starting the process (225–329), images
  // and manifests (330–379), blobs and layer infos (380–460), exit and the protocol's plumbing
  // (461–589). A range leaves out a block mutant that reaches past it (a class's body emptied).
  // `start` leaves out blob-streams.test.ts: every one of its 31 tests starts a proxy the same
  // way (16 s a mutant for nothing more); with it the group had 36 min to go after 6.
  ...Object.fromEntries(
    [
      ['image-proxy-helpers', '1-224'],
      ['image-proxy-start', '225-329', ['test/integration/blob-streams.test.ts']],
      ['image-proxy-images', '330-379'],
      ['image-proxy-blobs', '380-460'],
      ['image-proxy-plumbing', '461-589'],
    ].map(([name, lines, without = []]) => [
      name,
      {
        files: [`image-proxy:${lines}`],
        tests: [
          'test/unit/proxy-config.test.ts',
          'test/unit/proxy-newer-protocol.test.ts',
          'test/integration/proxy.test.ts',
          'test/integration/proxy-faults.test.ts',
          'test/integration/proxy-policy.test.ts',
          'test/integration/proxy-auth.test.ts',
          'test/integration/blob-streams.test.ts',
        ].filter((t) => !without.includes(t)),
        timeoutMS: 10_000,
      },
    ]),
  ),
};

export default groupConfig('proxy', 'PROXY_GROUP', GROUPS);
