// Stryker on src/container one group of files at a time, each with the few test files that reach
// the group inside their tests (test/MUTATION.md, container):
//   npm run build:ts && CONTAINER_GROUP=auto npx stryker run test/mutation/container-groups.mjs
// Why not `npm run mutate -- --mutate 'src/container/…'`: a module-level constant is a "static"
// mutant, which Stryker runs against every test file of the set, and TESTS.container holds about
// twenty files that build dpkg and rpm trees or encapsulate in a beforeAll.
import base from '../../stryker.config.mjs';

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

const name = process.env.CONTAINER_GROUP ?? '';
const group = GROUPS[name];
if (!group) throw new Error(`CONTAINER_GROUP=${name}: not one of ${Object.keys(GROUPS).join(', ')}`);
// Read by test/mutation/vitest.config.ts in the test processes.
process.env.OSTREE_CONTAINER_MUTATION_TESTS = JSON.stringify(group.tests);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  ...base,
  mutate: group.files.map((f) => `src/container/${f}.ts`),
  // These tests take seconds; a mutant that makes a parser loop would otherwise cost a minute.
  timeoutMS: 10_000,
  incrementalFile: `reports/mutation/container-${name}.incremental.json`,
  htmlReporter: { fileName: `reports/mutation/container-${name}.html` },
  jsonReporter: { fileName: `reports/mutation/container-${name}.json` },
  tempDirName: `.stryker-tmp/container-${name}`,
};
