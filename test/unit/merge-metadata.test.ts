// The merge commit's metadata as today's upstream writes it (store/merge.ts): upstream parses the
// manifest and configuration into its document types (oci-spec 0.10) and writes them back as
// canonical JSON, so fields those types do not know are dropped and `null` reads as absent.
// The byte-for-byte check against upstream's own merge commits is store-upstream.test.ts.
import { describe, expect, it } from 'vitest';
import type { ImageConfiguration, ImageManifest } from '../../src/oci/types.js';
import { mergeCommitMetadata } from '../../src/store/merge.js';

const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'a'.repeat(64)}`, size: 3 };
const manifest = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  layers: [{ ...layer, annotations: { b: '2', a: '1' }, unknown: 'x' }],
  config: { size: 5, digest: `sha256:${'b'.repeat(64)}`, mediaType: 'application/vnd.oci.image.config.v1+json', platform: { os: 'linux', architecture: 'amd64', extra: 1 } },
  extra: { nested: true },
} as unknown as ImageManifest;
const config = {
  rootfs: { type: 'layers', diff_ids: [`sha256:${'c'.repeat(64)}`] },
  os: 'linux',
  architecture: 'amd64',
  created: '2026-01-01T00:00:00Z',
  container_config: { Hostname: 'builder' },
  docker_version: '27.0',
  author: null,
  config: { Labels: { z: '1', a: '2' }, ExposedPorts: { '80/tcp': { odd: 1 } }, Env: null, Cmd: ['/bin/sh'], ArgsEscaped: true, Healthcheck: { Test: ['NONE'] } },
  history: [{ created_by: 'x', empty_layer: true, extra: 1 }],
} as unknown as ImageConfiguration;

describe('mergeCommitMetadata', () => {
  it('writes the keys in sorted order, the documents as canonical JSON of the fields upstream knows', () => {
    const m = mergeCommitMetadata({ manifestDigest: 'sha256:0123', manifest, config }, '0.15.3', new Map());
    expect([...m.keys()]).toEqual(['ostree.container.image-config', 'ostree.importer.version', 'ostree.manifest', 'ostree.manifest-digest']);
    expect(m.get('ostree.manifest')).toEqual({
      type: 's',
      value:
        `{"config":{"digest":"sha256:${'b'.repeat(64)}","mediaType":"application/vnd.oci.image.config.v1+json","platform":{"architecture":"amd64","os":"linux"},"size":5},` +
        `"layers":[{"annotations":{"a":"1","b":"2"},"digest":"sha256:${'a'.repeat(64)}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3}],` +
        '"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}',
    });
    expect(m.get('ostree.container.image-config')).toEqual({
      type: 's',
      value:
        '{"architecture":"amd64","config":{"Cmd":["/bin/sh"],"ExposedPorts":{"80/tcp":{}},"Labels":{"a":"2","z":"1"}},"created":"2026-01-01T00:00:00Z",' +
        `"history":[{"created_by":"x","empty_layer":true}],"os":"linux","rootfs":{"diff_ids":["sha256:${'c'.repeat(64)}"],"type":"layers"}}`,
    });
    expect(m.get('ostree.importer.version')).toEqual({ type: 's', value: '0.15.3' });
    expect(m.get('ostree.manifest-digest')).toEqual({ type: 's', value: 'sha256:0123' });
  });

  it('adds ostree.tar-filtered (in its sorted place) only when a layer had content filtered out', () => {
    const filtered = new Map([[layer.digest, new Map([['run', 2]])]]);
    const m = mergeCommitMetadata({ manifestDigest: 'sha256:0123', manifest, config }, '0.15.3', filtered);
    expect([...m.keys()]).toEqual(['ostree.container.image-config', 'ostree.importer.version', 'ostree.manifest', 'ostree.manifest-digest', 'ostree.tar-filtered']);
    expect(m.get('ostree.tar-filtered')).toEqual({ type: 'a{sa{su}}', value: filtered });
  });

  it('keeps the lists and maps of the fields upstream knows: urls, platform features, annotations, Env, Entrypoint, Volumes', () => {
    const platform = { architecture: 'amd64', os: 'windows', 'os.version': '10.0.17763', 'os.features': ['win32k'], variant: 'v3', features: ['sse4'] };
    const m = mergeCommitMetadata(
      {
        manifestDigest: 'sha256:0123',
        manifest: {
          schemaVersion: 2,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 5, platform },
          layers: [{ ...layer, urls: ['https://example.com/l', 'https://example.org/l'] }],
          annotations: { 'org.opencontainers.image.version': '1' },
        } as ImageManifest,
        config: {
          architecture: 'amd64',
          os: 'windows',
          'os.features': ['win32k'],
          config: { Env: ['PATH=/usr/bin', 'LANG=C'], Entrypoint: ['/bin/sh', '-c'], Volumes: { '/var/lib/x': { odd: 1 } } },
          rootfs: { type: 'layers', diff_ids: [] },
        } as unknown as ImageConfiguration,
      },
      '0.15.3',
      new Map(),
    );
    expect(m.get('ostree.manifest')?.value).toBe(
      `{"annotations":{"org.opencontainers.image.version":"1"},"config":{"digest":"sha256:${'b'.repeat(64)}","mediaType":"application/vnd.oci.image.config.v1+json",` +
        '"platform":{"architecture":"amd64","features":["sse4"],"os":"windows","os.features":["win32k"],"os.version":"10.0.17763","variant":"v3"},"size":5},' +
        `"layers":[{"digest":"sha256:${'a'.repeat(64)}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":3,"urls":["https://example.com/l","https://example.org/l"]}],` +
        '"schemaVersion":2}',
    );
    expect(m.get('ostree.container.image-config')?.value).toBe(
      '{"architecture":"amd64","config":{"Entrypoint":["/bin/sh","-c"],"Env":["PATH=/usr/bin","LANG=C"],"Volumes":{"/var/lib/x":{}}},' +
        '"os":"windows","os.features":["win32k"],"rootfs":{"diff_ids":[],"type":"layers"}}',
    );
  });

  // Our parser (oci/types.ts) checks the types of the fields it relies on and lets the others
  // through whatever they hold, where upstream's typed parse would refuse the document: a field
  // upstream knows is then kept as given, never emptied (nor a string read as a set).
  it('keeps a known field as given when it holds something other than the string or flag upstream expects', () => {
    const odd = { k: [1] };
    const m = mergeCommitMetadata(
      {
        manifestDigest: 'sha256:0123',
        manifest: {
          schemaVersion: 2,
          artifactType: odd,
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'b'.repeat(64)}`, size: 5, artifactType: odd, data: odd, platform: { architecture: 'amd64', os: 'linux', 'os.version': odd } },
          layers: [],
        } as unknown as ImageManifest,
        config: {
          architecture: 'amd64',
          os: 'linux',
          author: odd,
          'os.version': odd,
          variant: odd,
          config: { User: odd, WorkingDir: odd, StopSignal: odd, Volumes: '/data' },
          rootfs: { type: 'layers', diff_ids: [] },
          history: [{ created: odd, author: odd, created_by: odd, comment: odd, empty_layer: odd }],
        } as unknown as ImageConfiguration,
      },
      '0.15.3',
      new Map(),
    );
    const o = '{"k":[1]}';
    expect(m.get('ostree.manifest')?.value).toBe(
      `{"artifactType":${o},"config":{"artifactType":${o},"data":${o},"digest":"sha256:${'b'.repeat(64)}","mediaType":"application/vnd.oci.image.config.v1+json",` +
        `"platform":{"architecture":"amd64","os":"linux","os.version":${o}},"size":5},"layers":[],"schemaVersion":2}`,
    );
    expect(m.get('ostree.container.image-config')?.value).toBe(
      `{"architecture":"amd64","author":${o},"config":{"StopSignal":${o},"User":${o},"Volumes":"/data","WorkingDir":${o}},` +
        `"history":[{"author":${o},"comment":${o},"created":${o},"created_by":${o},"empty_layer":${o}}],` +
        `"os":"linux","os.version":${o},"rootfs":{"diff_ids":[],"type":"layers"},"variant":${o}}`,
    );
  });
});
