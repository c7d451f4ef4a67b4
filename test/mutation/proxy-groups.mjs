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
  // blobs at once, the pool of proxies and skopeo copy. timeoutMS 10 s: a mutant that leaves a
  // request unanswered makes a test wait, and a timeout counts as killed.
  core: {
    files: ['image-proxy', 'blob-streams', 'pool', 'skopeo-copy'],
    tests: [
      'test/unit/proxy-*.test.ts',
      'test/integration/proxy.test.ts',
      'test/integration/proxy-faults.test.ts',
      'test/integration/blob-streams.test.ts',
      'test/integration/oci-skopeo.test.ts',
    ],
    timeoutMS: 10_000,
  },
};

export default groupConfig('proxy', 'PROXY_GROUP', GROUPS);
