// Public API of ostree-container: named exports only.
export { formatSize } from './format.js';
// The example OS of upstream's tests: the test fixture and the CLI demo's input
export type { ExampleOsOptions, RepoModeName, FileDef, Tree, TreeNode } from './fixture/index.js';
export {
  ExampleOs, createExampleOs, parseFileDefs, applyFileDefs, selinuxLabelFor, objectMetaFor, treeToPaxTar,
  TESTREF, CONTENTS_CHECKSUM_V0, CONTENTS_CHECKSUM_V1, COMMIT_V0, COMMIT_V1, CONTENTS_V0, LAYERS_V0_LEN, PKGS_V0_LEN,
  GPG_KEY_ID, GPG_KEY_FINGERPRINT,
} from './fixture/index.js';
