// `info IMGREF`: the manifest digest of an image, fetched through the skopeo proxy. As upstream, no
// ostree auth defaults apply; unlike upstream, the proxy options are accepted (e.g. for a plain-HTTP
// registry, which skopeo 1.9.3 cannot be told about through the environment).
import type { Command } from 'commander';
import { fetchManifest } from '../proxy/fetch.js';
import { parseImgrefArg } from './imgref-arg.js';
import { addProxyOptions, proxyConfigOf, type ProxyCliOptions } from './proxy-options.js';

export function registerInfo(program: Command): void {
  addProxyOptions(
    program
      .command('info')
      .description('Print the manifest digest of a container image')
      .argument('<imgref>', 'image reference, e.g. ostree-unverified-registry:quay.io/x or oci:DIR:TAG'),
  ).action(async (arg: string, o: ProxyCliOptions) => {
    const imgref = parseImgrefArg(arg);
    const { digest } = await fetchManifest(imgref, proxyConfigOf(o));
    process.stdout.write(`${imgref.toString()} digest: ${digest}\n`);
  });
}
