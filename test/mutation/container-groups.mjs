// Stryker on src/container one group of files at a time, each with the few test files that reach
// the group inside their tests (test/MUTATION.md, container):
//   npm run build:ts && CONTAINER_GROUP=auto npx stryker run test/mutation/container-groups.mjs
// Why not `npm run mutate -- --mutate 'src/container/…'`: a module-level constant is a "static"
// mutant, which Stryker runs against every test file of the set, and TESTS.container holds about
// twenty files that build dpkg and rpm trees or encapsulate in a beforeAll.
import { groupConfig } from './groups.mjs';

const unit = (f) => `test/unit/${f}.test.ts`;
const integration = (f) => `test/integration/${f}.test.ts`;
const GROUPS = {
  // unencapsulate() and the layer plan it shares with encapsulate.
  unencap: { files: ['layer-plan', 'unencapsulate'], tests: [unit('layer-plan'), integration('unencapsulate')] },
  // Automatic chunking: the database discovery, the components, the options.
  auto: { files: ['auto-chunking'], tests: [unit('auto-chunking'), unit('layer-plan'), integration('auto-chunking')] },
  // encapsulate(): labels, config, manifest, the object assignment, the push through skopeo.
  encap: { files: ['encapsulate'], tests: [unit('encapsulate'), integration('encapsulate'), integration('encapsulate-registry')] },
};

// These tests take seconds; a mutant that makes a parser loop would otherwise cost a minute.
export default groupConfig('container', 'CONTAINER_GROUP', GROUPS, { timeoutMS: 10_000 });
