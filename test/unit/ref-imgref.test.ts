import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ImageReference,
  OstreeImageReference,
  SignatureSource,
  Transport,
  parseOciPathAndTag,
  parseTransport,
  transportPrefix,
  transportSerializableName,
} from '../../src/index.js';

const ALL_TRANSPORTS = Object.values(Transport);

describe('Transport', () => {
  it('accepts exactly the upstream tokens', () => {
    expect(parseTransport('registry')).toBe(Transport.Registry);
    expect(parseTransport('docker')).toBe(Transport.Registry);
    expect(parseTransport('oci')).toBe(Transport.OciDir);
    expect(parseTransport('oci-archive')).toBe(Transport.OciArchive);
    expect(parseTransport('docker-archive')).toBe(Transport.DockerArchive);
    expect(parseTransport('containers-storage')).toBe(Transport.ContainerStorage);
    expect(parseTransport('dir')).toBe(Transport.Dir);
  });

  it.each(['docker-daemon', 'sif', 'tarball', 'atomic', 'ostree', 'Registry', 'DOCKER', ''])('rejects %j', (t) => {
    expect(() => parseTransport(t)).toThrow(new Error(`Unknown transport '${t}'`));
  });

  it('serializable names re-parse to the same transport', () => {
    for (const t of ALL_TRANSPORTS) expect(parseTransport(transportSerializableName(t))).toBe(t);
    expect(ALL_TRANSPORTS).toHaveLength(6);
  });

  it('display prefixes', () => {
    expect(ALL_TRANSPORTS.map(transportPrefix)).toEqual([
      'docker://',
      'oci:',
      'oci-archive:',
      'docker-archive:',
      'containers-storage:',
      'dir:',
    ]);
  });
});

describe('ImageReference (spec §1.6)', () => {
  const valid: [string, Transport, string, string][] = [
    ['registry:quay.io/exampleos/blah', Transport.Registry, 'quay.io/exampleos/blah', 'docker://quay.io/exampleos/blah'],
    ['docker://quay.io/exampleos/blah:sometag', Transport.Registry, 'quay.io/exampleos/blah:sometag', 'docker://quay.io/exampleos/blah:sometag'],
    ['containers-storage:localhost/someimage', Transport.ContainerStorage, 'localhost/someimage', 'containers-storage:localhost/someimage'],
    ['oci:somedir', Transport.OciDir, 'somedir', 'oci:somedir'],
    ['dir:/some/dir/blah', Transport.Dir, '/some/dir/blah', 'dir:/some/dir/blah'],
    ['oci-archive:/path/to/foo.ociarchive', Transport.OciArchive, '/path/to/foo.ociarchive', 'oci-archive:/path/to/foo.ociarchive'],
    ['docker-archive:/path/to/foo.dockerarchive', Transport.DockerArchive, '/path/to/foo.dockerarchive', 'docker-archive:/path/to/foo.dockerarchive'],
    ['containers-storage:localhost/someimage:blah', Transport.ContainerStorage, 'localhost/someimage:blah', 'containers-storage:localhost/someimage:blah'],
    ['docker://quay.io/examplens/exampleos', Transport.Registry, 'quay.io/examplens/exampleos', 'docker://quay.io/examplens/exampleos'],
    ['docker://', Transport.Registry, '', 'docker://'],
    ['registry://x', Transport.Registry, '//x', 'docker:////x'],
  ];
  it.each(valid)('parses %j', (input, transport, name, formatted) => {
    const r = ImageReference.parse(input);
    expect(r.transport).toBe(transport);
    expect(r.name).toBe(name);
    expect(r.toString()).toBe(formatted);
    expect(`${r}`).toBe(formatted);
    expect(ImageReference.parse(formatted).equals(r)).toBe(true);
  });

  const invalid: [string, string][] = [
    ['', "Missing ':' in "],
    ['foo://', "Unknown transport 'foo'"],
    ['docker:blah', 'Missing // in docker:// in docker:blah'],
    ['registry:', 'Invalid empty name in registry:'],
    ['foo:bar', "Unknown transport 'foo'"],
    ['docker:', 'Invalid empty name in docker:'],
    ['docker-daemon:busybox:latest', "Unknown transport 'docker-daemon'"],
  ];
  it.each(invalid)('rejects %j with the exact message', (input, message) => {
    expect(() => ImageReference.parse(input)).toThrow(new Error(message));
  });

  it('equality is over both fields', () => {
    const a = new ImageReference(Transport.OciDir, 'x');
    expect(a.equals(new ImageReference(Transport.OciDir, 'x'))).toBe(true);
    expect(a.equals(new ImageReference(Transport.Dir, 'x'))).toBe(false);
    expect(a.equals(new ImageReference(Transport.OciDir, 'y'))).toBe(false);
  });
});

describe('SignatureSource', () => {
  it('parses and displays the three variants', () => {
    expect(SignatureSource.parse('ostree-remote-image:foo:bar')).toEqual(SignatureSource.OstreeRemote('foo:bar'));
    expect(SignatureSource.parse('ostree-remote-image:')).toEqual(SignatureSource.OstreeRemote(''));
    expect(SignatureSource.parse('ostree-image-signed')).toEqual(SignatureSource.ContainerPolicy);
    expect(SignatureSource.parse('ostree-unverified-image')).toEqual(SignatureSource.ContainerPolicyAllowInsecure);
    for (const s of ['ostree-remote-image:r', 'ostree-image-signed', 'ostree-unverified-image']) {
      expect(SignatureSource.format(SignatureSource.parse(s))).toBe(s);
    }
  });
  it.each(['ostree-unverified-registry', 'ostree-remote-registry:x', 'ostree-remote-image', ''])('rejects %j', (s) => {
    expect(() => SignatureSource.parse(s)).toThrow(new Error(`Invalid signature source: ${s}`));
  });
  it('equality', () => {
    expect(SignatureSource.equals(SignatureSource.OstreeRemote('a'), SignatureSource.OstreeRemote('a'))).toBe(true);
    expect(SignatureSource.equals(SignatureSource.OstreeRemote('a'), SignatureSource.OstreeRemote('b'))).toBe(false);
    expect(SignatureSource.equals(SignatureSource.ContainerPolicy, SignatureSource.ContainerPolicyAllowInsecure)).toBe(false);
  });
});

describe('OstreeImageReference (spec §1.6)', () => {
  const R = Transport.Registry;
  const insecure = SignatureSource.ContainerPolicyAllowInsecure;
  const vectors: [string, SignatureSource, Transport, string, string, string | undefined][] = [
    ['ostree-remote-image:myremote:registry:quay.io/exampleos/blah', SignatureSource.OstreeRemote('myremote'), R, 'quay.io/exampleos/blah',
      'ostree-remote-image:myremote:docker://quay.io/exampleos/blah', 'ostree-remote-image:myremote:docker://quay.io/exampleos/blah'],
    ['ostree-remote-registry:myremote:quay.io/exampleos/blah', SignatureSource.OstreeRemote('myremote'), R, 'quay.io/exampleos/blah',
      'ostree-remote-image:myremote:docker://quay.io/exampleos/blah', 'ostree-remote-image:myremote:docker://quay.io/exampleos/blah'],
    ['ostree-image-signed:docker://quay.io/exampleos/blah', SignatureSource.ContainerPolicy, R, 'quay.io/exampleos/blah',
      'ostree-image-signed:docker://quay.io/exampleos/blah', 'ostree-image-signed:docker://quay.io/exampleos/blah'],
    ['ostree-unverified-image:docker://quay.io/exampleos/blah', insecure, R, 'quay.io/exampleos/blah',
      'ostree-unverified-registry:quay.io/exampleos/blah', 'docker://quay.io/exampleos/blah'],
    ['ostree-unverified-registry:quay.io/exampleos/blah', insecure, R, 'quay.io/exampleos/blah',
      'ostree-unverified-registry:quay.io/exampleos/blah', 'docker://quay.io/exampleos/blah'],
    ['ostree-unverified-registry:quay.io/examplens/exampleos', insecure, R, 'quay.io/examplens/exampleos',
      'ostree-unverified-registry:quay.io/examplens/exampleos', undefined],
    ['ostree-remote-registry:fedora:quay.io/coreos/fedora-coreos:stable', SignatureSource.OstreeRemote('fedora'), R, 'quay.io/coreos/fedora-coreos:stable',
      'ostree-remote-image:fedora:docker://quay.io/coreos/fedora-coreos:stable', 'ostree-remote-image:fedora:docker://quay.io/coreos/fedora-coreos:stable'],
    ['ostree-unverified-image:oci:/srv/img', insecure, Transport.OciDir, '/srv/img', 'ostree-unverified-image:oci:/srv/img', 'ostree-unverified-image:oci:/srv/img'],
    ['ostree-image-signed:registry:quay.io/x', SignatureSource.ContainerPolicy, R, 'quay.io/x', 'ostree-image-signed:docker://quay.io/x', 'ostree-image-signed:docker://quay.io/x'],
    ['ostree-remote-image::docker://quay.io/x', SignatureSource.OstreeRemote(''), R, 'quay.io/x', 'ostree-remote-image::docker://quay.io/x', 'ostree-remote-image::docker://quay.io/x'],
    ['ostree-unverified-registry:docker://quay.io/x', insecure, R, 'docker://quay.io/x', 'ostree-unverified-registry:docker://quay.io/x', 'docker://docker://quay.io/x'],
  ];
  it.each(vectors)('parses %j', (input, sig, transport, name, formatted, alt) => {
    const r = OstreeImageReference.parse(input);
    expect(r.sigverify).toEqual(sig);
    expect(r.imgref.transport).toBe(transport);
    expect(r.imgref.name).toBe(name);
    expect(r.toString()).toBe(formatted);
    if (alt !== undefined) expect(r.toString({ alternate: true })).toBe(alt);
    expect(OstreeImageReference.parse(formatted).equals(r)).toBe(true);
  });

  it('shorthand pairs parse to equal values', () => {
    const eq = (a: string, b: string) => OstreeImageReference.parse(a).equals(OstreeImageReference.parse(b));
    expect(eq('ostree-remote-image:myremote:registry:quay.io/exampleos/blah', 'ostree-remote-registry:myremote:quay.io/exampleos/blah')).toBe(true);
    expect(eq('ostree-unverified-image:docker://quay.io/exampleos/blah', 'ostree-unverified-registry:quay.io/exampleos/blah')).toBe(true);
    expect(eq('ostree-image-signed:docker://quay.io/x', 'ostree-unverified-image:docker://quay.io/x')).toBe(false);
  });

  it('the alternate form of an unverified registry image is not re-parseable', () => {
    const alt = OstreeImageReference.parse('ostree-unverified-registry:quay.io/x').toString({ alternate: true });
    expect(() => OstreeImageReference.parse(alt)).toThrow(new Error('Invalid ostree image reference scheme: docker'));
  });

  it('quirk: an empty registry name (from docker://) breaks the round-trip law', () => {
    // Upstream formats this as `ostree-unverified-registry:`, which does not parse back.
    const r = OstreeImageReference.parse('ostree-unverified-image:docker://');
    expect(r.imgref).toEqual(new ImageReference(Transport.Registry, ''));
    expect(r.toString()).toBe('ostree-unverified-registry:');
    expect(() => OstreeImageReference.parse(r.toString())).toThrow(new Error('Invalid empty name in registry:'));
  });

  const invalid: [string, string][] = [
    ['quay.io/foo', "Missing ':' in quay.io/foo"],
    ['docker://quay.io/foo', 'Invalid ostree image reference scheme: docker'],
    ['ostree-remote-image:myremote', "Missing second ':' in ostree-remote-image:myremote"],
    ['ostree-remote-registry:myremote', "Missing second ':' in ostree-remote-registry:myremote"],
    ['ostree-image-signed:quay.io/foo', "Missing ':' in quay.io/foo"],
    ['ostree-image-signed:quay.io/foo:latest', "Unknown transport 'quay.io/foo'"],
    ['ostree-unverified-registry:', 'Invalid empty name in registry:'],
  ];
  it.each(invalid)('rejects %j with the exact message', (input, message) => {
    expect(() => OstreeImageReference.parse(input)).toThrow(new Error(message));
  });
});

describe('parseOciPathAndTag (spec §1.5)', () => {
  it('splits at the first colon', () => {
    expect(parseOciPathAndTag('/foo/bar')).toEqual({ path: '/foo/bar' });
    expect(parseOciPathAndTag('/foo/bar:baz')).toEqual({ path: '/foo/bar', tag: 'baz' });
    expect(parseOciPathAndTag('/foo/bar:baz:latest')).toEqual({ path: '/foo/bar', tag: 'baz:latest' });
  });
});

describe('round-trip law: parse(format(x)) equals x', () => {
  const arbTransport = fc.constantFrom(...ALL_TRANSPORTS);
  const arbName = fc.string({ minLength: 1, unit: 'grapheme' });
  // A Registry name given to the docker:// form loses nothing; an empty name only round-trips for Registry.
  const arbImgref = fc.tuple(arbTransport, arbName).map(([t, n]) => new ImageReference(t, n));
  const arbSig = fc.oneof(
    fc.string({ unit: 'grapheme' }).filter((r) => !r.includes(':')).map(SignatureSource.OstreeRemote),
    fc.constant(SignatureSource.ContainerPolicy),
    fc.constant(SignatureSource.ContainerPolicyAllowInsecure),
  );

  it('ImageReference', () => {
    fc.assert(fc.property(arbImgref, (r) => ImageReference.parse(r.toString()).equals(r)));
  });

  it('OstreeImageReference (normal form)', () => {
    fc.assert(
      fc.property(arbSig, arbImgref, (sig, imgref) => {
        const r = new OstreeImageReference(sig, imgref);
        const back = OstreeImageReference.parse(r.toString());
        return back.equals(r) && back.toString() === r.toString();
      }),
    );
  });
});
