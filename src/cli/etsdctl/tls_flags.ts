/**
 * etcdctl's transport-security flags (--cert, --key, --cacert, --insecure-transport,
 * --insecure-skip-tls-verify) turned into TLS options, with etcdctl's rules (ctlv3/command/
 * global.go newClientCfg, clientv3's processCreds):
 *
 * - a TLS config exists when any of --cert, --key, --cacert is given, or when
 *   --insecure-transport=false; --insecure-skip-tls-verify applies only to that config;
 * - an https:// endpoint uses TLS (the config, or the system roots when there is none), an
 *   http:// endpoint never does, and a bare host:port does exactly when a config exists;
 * - a flag given as an empty string, an unreadable file, a cert without its key or a bad CA
 *   file stop etcdctl before it dials, with its text and exit code 128 (ExitBadArgs).
 */
import type * as tls from 'node:tls';
import { TlsConfigError, clientTlsOptions } from '../../net/tls.js';
import { CtlExitError, ExitBadArgs } from './exit.js';

export interface TlsFlags {
  /** undefined when the flag was not given (an explicit empty string is an error). */
  cert: string | undefined;
  key: string | undefined;
  cacert: string | undefined;
  insecureTransport: boolean;
  insecureSkipVerify: boolean;
}

/** The client TLS config (files loaded), or undefined when etcdctl would have none. */
export function tlsFromFlags(f: TlsFlags): tls.ConnectionOptions | undefined {
  for (const [name, v] of [['cert', f.cert], ['key', f.key], ['cacert', f.cacert]] as const) {
    if (v === '') throw new CtlExitError(ExitBadArgs, `empty string is passed to --${name} option`);
  }
  const any = f.cert !== undefined || f.key !== undefined || f.cacert !== undefined;
  if (!any && f.insecureTransport) return undefined;
  try {
    return clientTlsOptions({ certFile: f.cert, keyFile: f.key, caFile: f.cacert, insecureSkipVerify: f.insecureSkipVerify });
  } catch (e) {
    if (e instanceof TlsConfigError) throw new CtlExitError(ExitBadArgs, e.message);
    throw e;
  }
}

/**
 * How to reach one endpoint: its URL for the gRPC client and the TLS options to use, if any.
 * `host:port` becomes http:// or https:// by the rule above.
 */
export function endpointTransport(ep: string, config: tls.ConnectionOptions | undefined): { url: string; tls: tls.ConnectionOptions | undefined } {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(ep);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme === 'https') return { url: ep, tls: config ?? {} };
  if (scheme !== undefined) return { url: ep, tls: undefined };
  return config !== undefined ? { url: `https://${ep}`, tls: config } : { url: `http://${ep}`, tls: undefined };
}
