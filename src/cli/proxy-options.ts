// The skopeo proxy options of commands that fetch images (upstream's ContainerProxyOpts, spec §5.8).
import type { Command } from 'commander';
import type { ImageProxyConfig } from '../proxy/config.js';

export interface ProxyCliOptions {
  authAnonymous?: boolean;
  authfile?: string;
  certDir?: string;
  insecureSkipTlsVerification?: boolean;
}

export function addProxyOptions(cmd: Command): Command {
  return cmd
    .option('--auth-anonymous', 'do not use any authentication')
    .option('--authfile <path>', 'path to a container authentication file')
    .option('--cert-dir <dir>', 'directory with TLS certificates (*.crt, *.cert, *.key)')
    .option('--insecure-skip-tls-verification', 'skip TLS verification');
}

export function proxyConfigOf(o: ProxyCliOptions): ImageProxyConfig {
  return {
    ...(o.authAnonymous ? { authAnonymous: true } : {}),
    ...(o.authfile !== undefined ? { authfile: o.authfile } : {}),
    ...(o.certDir !== undefined ? { certificateDirectory: o.certDir } : {}),
    insecureSkipTlsVerification: !!o.insecureSkipTlsVerification,
  };
}
