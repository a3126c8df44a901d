/**
 * The member's configuration: etcd's flag names and defaults, validated into a ServerConfig,
 * and the member and cluster IDs derived exactly as etcd derives them, so that an etsd cluster
 * started with the same --initial-cluster and --initial-cluster-token as an etcd one has the
 * same IDs.
 */
import { createHash } from 'node:crypto';
import type * as tls from 'node:tls';
import { EtsdError } from '../util/errors.js';
import * as limits from '../limits.js';
import { TlsConfigError, clientTlsOptions, serverTlsOptions, type ServerTlsFiles } from '../net/tls.js';

export class ConfigError extends EtsdError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface ServerConfig {
  name: string;
  dataDir: string;
  listenClientUrls: URL[];
  advertiseClientUrls: URL[];
  listenPeerUrls: URL[];
  initialAdvertisePeerUrls: URL[];
  /** name -> peer URLs, from --initial-cluster. */
  initialCluster: Map<string, URL[]>;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  snapshotCount: number;
  heartbeatMs: number;
  electionMs: number;
  quotaBackendBytes: number;
  maxRequestBytes: number;
  logLevel: LogLevel;
  /**
   * Client TLS (--cert-file, --key-file, --trusted-ca-file, --client-cert-auth), loaded and
   * checked; served on every https:// client URL. Absent when no client URL is https://, or
   * when --auto-tls makes the certificate at start (clientAutoTls).
   */
  clientTls?: tls.TlsOptions | undefined;
  /** The files clientTls was loaded from (the member reloads them when they change). */
  clientTlsFiles?: ServerTlsFiles | undefined;
  /** --auto-tls without --cert-file/--key-file: a self-signed certificate in <data-dir>/fixtures/client. */
  clientAutoTls?: boolean | undefined;
  /** Set when --cert-file/--key-file were given but no client URL is https:// (etcd warns and ignores them). */
  clientTlsIgnored?: boolean | undefined;
  /**
   * Peer TLS (--peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth):
   * `server` for an https:// peer listener, `client` (the same certificate as identity, the peer
   * CA as roots) for dialing https:// peers.
   */
  peerTls?: { server: tls.TlsOptions | undefined; client: tls.ConnectionOptions } | undefined;
  /** --peer-auto-tls without peer files: a self-signed certificate in <data-dir>/fixtures/peer. */
  peerAutoTls?: boolean | undefined;
}

/** The flags as yargs hands them over (strings and numbers as typed on the command line). */
export interface RawFlags {
  name?: string;
  dataDir?: string;
  listenClientUrls?: string;
  advertiseClientUrls?: string;
  listenPeerUrls?: string;
  initialAdvertisePeerUrls?: string;
  initialCluster?: string;
  initialClusterState?: string;
  initialClusterToken?: string;
  snapshotCount?: number;
  heartbeatInterval?: number;
  electionTimeout?: number;
  quotaBackendBytes?: number;
  maxRequestBytes?: number;
  logLevel?: string;
  certFile?: string;
  keyFile?: string;
  trustedCaFile?: string;
  clientCertAuth?: boolean;
  autoTls?: boolean;
  peerCertFile?: string;
  peerKeyFile?: string;
  peerTrustedCaFile?: string;
  peerClientCertAuth?: boolean;
  peerAutoTls?: boolean;
}

/** etcd's defaults (etcd 3.4 embed/config.go), with the data dir named after etsd. */
export const defaults = {
  name: 'default',
  listenClientUrls: 'http://localhost:2379',
  listenPeerUrls: 'http://localhost:2380',
  advertiseClientUrls: 'http://localhost:2379',
  initialAdvertisePeerUrls: 'http://localhost:2380',
  initialClusterToken: 'etcd-cluster',
  snapshotCount: limits.snapshotCountDefault,
  heartbeatInterval: limits.raftHeartbeatMsDefault,
  electionTimeout: limits.raftElectionMsDefault,
  /** etcd's DefaultQuotaBytes: 2 GiB. */
  quotaBackendBytes: 2 * 1024 * 1024 * 1024,
  maxRequestBytes: limits.requestBytesMax,
  logLevel: 'info' as LogLevel,
} as const;

/** etcd's upper bound on --quota-backend-bytes (MaxQuotaBytes, 8 GiB). */
const quotaBackendBytesMax = 8 * 1024 * 1024 * 1024;

export function parseUrls(flag: string, s: string): URL[] {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new ConfigError(`--${flag}: at least one URL is required`);
  return parts.map((p) => {
    let u: URL;
    try {
      u = new URL(p);
    } catch {
      throw new ConfigError(`--${flag}: '${p}' is not a URL (expected e.g. http://127.0.0.1:2379)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:' && u.protocol !== 'unix:' && u.protocol !== 'unixs:') {
      throw new ConfigError(`--${flag}: URL scheme must be http, https, unix or unixs: '${p}'`);
    }
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.port === '') {
      throw new ConfigError(`--${flag}: URL must name a port: '${p}'`);
    }
    if (u.pathname !== '/' && u.pathname !== '') throw new ConfigError(`--${flag}: URL must not have a path: '${p}'`);
    return u;
  });
}

/** Parses `infra1=http://127.0.0.1:12380,infra2=http://...` into name -> URLs. */
export function parseInitialCluster(s: string): Map<string, URL[]> {
  const out = new Map<string, URL[]>();
  for (const part of s.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--initial-cluster: '${part}' is not name=url`);
    const name = part.slice(0, eq);
    const urls = parseUrls('initial-cluster', part.slice(eq + 1));
    const list = out.get(name) ?? [];
    list.push(...urls);
    out.set(name, list);
  }
  if (out.size === 0) throw new ConfigError('--initial-cluster is empty');
  return out;
}

/** etcd's URL string form: scheme://host:port with no trailing slash. */
export function urlString(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

function positiveInt(flag: string, v: number | undefined, dflt: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = v ?? dflt;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${flag} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return n;
}

export function buildConfig(f: RawFlags): ServerConfig {
  const name = f.name ?? defaults.name;
  if (name === '') throw new ConfigError('--name must not be empty');
  const listenPeerUrls = parseUrls('listen-peer-urls', f.listenPeerUrls ?? defaults.listenPeerUrls);
  const listenClientUrls = parseUrls('listen-client-urls', f.listenClientUrls ?? defaults.listenClientUrls);
  const advertiseClientUrls = parseUrls('advertise-client-urls', f.advertiseClientUrls ?? defaults.advertiseClientUrls);
  const initialAdvertisePeerUrls = parseUrls(
    'initial-advertise-peer-urls',
    f.initialAdvertisePeerUrls ?? defaults.initialAdvertisePeerUrls,
  );
  const initialCluster = parseInitialCluster(
    f.initialCluster ?? `${name}=${initialAdvertisePeerUrls.map(urlString).join(`,${name}=`)}`,
  );
  const own = initialCluster.get(name);
  if (own === undefined) {
    throw new ConfigError(`--initial-cluster has no member named '${name}' (the --name of this member)`);
  }
  const ownSet = new Set(own.map(urlString));
  const advSet = new Set(initialAdvertisePeerUrls.map(urlString));
  if (ownSet.size !== advSet.size || [...ownSet].some((u) => !advSet.has(u))) {
    throw new ConfigError(
      `--initial-cluster has ${name}=${[...ownSet].join(',')} but missing from --initial-advertise-peer-urls=${[...advSet].join(',')}`,
    );
  }
  const state = f.initialClusterState ?? 'new';
  if (state !== 'new' && state !== 'existing') {
    throw new ConfigError(`--initial-cluster-state must be 'new' or 'existing', got '${state}'`);
  }
  const heartbeatMs = positiveInt('heartbeat-interval', f.heartbeatInterval, defaults.heartbeatInterval);
  const electionMs = positiveInt('election-timeout', f.electionTimeout, defaults.electionTimeout);
  // etcd: "--election-timeout[...] should be at least as 5 times as --heartbeat-interval"
  if (electionMs < 5 * heartbeatMs) {
    throw new ConfigError(
      `--election-timeout[${electionMs}ms] should be at least as 5 times as --heartbeat-interval[${heartbeatMs}ms]`,
    );
  }
  if (electionMs > 50_000) throw new ConfigError(`--election-timeout[${electionMs}ms] is too long, and should be set less than 50 seconds`);
  const logLevel = (f.logLevel ?? defaults.logLevel) as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError(`--log-level must be one of debug, info, warn, error; got '${logLevel}'`);
  }
  const tlsPart = clientTlsConfig(f, listenClientUrls);
  const peerPart = peerTlsConfig(f, listenPeerUrls);
  return {
    ...tlsPart,
    ...peerPart,
    name,
    dataDir: f.dataDir ?? `${name}.etsd`,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: state,
    initialClusterToken: f.initialClusterToken ?? defaults.initialClusterToken,
    snapshotCount: positiveInt('snapshot-count', f.snapshotCount, defaults.snapshotCount),
    heartbeatMs,
    electionMs,
    quotaBackendBytes: positiveInt('quota-backend-bytes', f.quotaBackendBytes, defaults.quotaBackendBytes, 1, quotaBackendBytesMax),
    maxRequestBytes: positiveInt('max-request-bytes', f.maxRequestBytes, defaults.maxRequestBytes, 1, limits.frameBytesMax / 2),
    logLevel,
  };
}

/**
 * The client TLS part of the config, with etcd's checks (embed.configureClientListeners): an
 * https:// URL needs a certificate and key (or --auto-tls); certificates given with only http://
 * URLs are ignored, as etcd ignores them (the member logs a warning). The files are read here so
 * a bad path or a key that is not the certificate's stops the start with a ConfigError.
 */
function clientTlsConfig(f: RawFlags, listenClientUrls: URL[]): Pick<ServerConfig, 'clientTls' | 'clientTlsFiles' | 'clientAutoTls' | 'clientTlsIgnored'> {
  const certFile = f.certFile ?? '';
  const keyFile = f.keyFile ?? '';
  const haveFiles = certFile !== '' || keyFile !== '';
  const secure = listenClientUrls.filter((u) => u.protocol === 'https:' || u.protocol === 'unixs:');
  if (secure.length === 0) return haveFiles || f.clientCertAuth === true ? { clientTlsIgnored: true } : {};
  if (!haveFiles) {
    if (f.autoTls === true) return { clientAutoTls: true };
    throw new ConfigError(`TLS key/cert (--cert-file, --key-file) must be provided for client url ${urlString(secure[0]!)} with HTTPS scheme`);
  }
  const files: ServerTlsFiles = { certFile, keyFile, trustedCaFile: f.trustedCaFile, clientCertAuth: f.clientCertAuth };
  try {
    return { clientTls: serverTlsOptions(files), clientTlsFiles: files };
  } catch (err) {
    if (err instanceof TlsConfigError) throw new ConfigError(withTlsFlags(err.message, certFile, keyFile, f.trustedCaFile ?? ''));
    throw err;
  }
}

/** etcd's TLS messages name a file only when opening it failed; say which flags were in play. */
function withTlsFlags(message: string, certFile: string, keyFile: string, caFile: string): string {
  if (message.startsWith('open ') || message.startsWith('read ') || message.startsWith('KeyFile')) return message;
  const files = [`--cert-file=${certFile}`, `--key-file=${keyFile}`, ...(caFile !== '' ? [`--trusted-ca-file=${caFile}`] : [])];
  return `${message} (${files.join(' ')})`;
}

/**
 * The peer TLS part (embed.configurePeerListeners and the rafthttp transport): an https:// peer
 * URL needs --peer-cert-file and --peer-key-file (or --peer-auto-tls); a trusted CA or
 * --peer-client-cert-auth makes the listener require a certificate from peers.
 */
function peerTlsConfig(f: RawFlags, listenPeerUrls: URL[]): Pick<ServerConfig, 'peerTls' | 'peerAutoTls'> {
  const certFile = f.peerCertFile ?? '';
  const keyFile = f.peerKeyFile ?? '';
  const caFile = f.peerTrustedCaFile ?? '';
  const haveFiles = certFile !== '' || keyFile !== '';
  const secure = listenPeerUrls.find((u) => u.protocol === 'https:' || u.protocol === 'unixs:');
  if (!haveFiles) {
    if (secure === undefined) return {};
    if (f.peerAutoTls === true) return { peerAutoTls: true };
    throw new ConfigError(`cannot listen on TLS for ${secure.host}: KeyFile and CertFile are not presented (--peer-cert-file, --peer-key-file)`);
  }
  try {
    return {
      peerTls: {
        server: secure !== undefined ? serverTlsOptions({ certFile, keyFile, trustedCaFile: caFile, clientCertAuth: f.peerClientCertAuth }) : undefined,
        client: clientTlsOptions({ certFile, keyFile, caFile }),
      },
    };
  } catch (err) {
    if (err instanceof TlsConfigError) {
      const files = `--peer-cert-file=${certFile} --peer-key-file=${keyFile}${caFile !== '' ? ` --peer-trusted-ca-file=${caFile}` : ''}`;
      throw new ConfigError(/^(open|read) |^KeyFile/.test(err.message) ? err.message : `${err.message} (${files})`);
    }
    throw err;
  }
}

/**
 * etcd's member ID (membership.NewMember): the first 8 bytes, big-endian, of SHA-1 over the
 * sorted peer URLs concatenated, then the cluster token, then (for a member added at run time)
 * the Unix time in seconds as decimal text.
 */
export function memberId(peerUrls: readonly string[], clusterToken: string, nowUnixSeconds?: number): bigint {
  const h = createHash('sha1');
  for (const u of [...peerUrls].sort()) h.update(u);
  h.update(clusterToken);
  if (nowUnixSeconds !== undefined) h.update(String(nowUnixSeconds));
  return h.digest().readBigUInt64BE(0);
}

/** etcd's cluster ID (RaftCluster.genID): SHA-1 over the sorted member IDs as 8-byte big-endian. */
export function clusterId(memberIds: readonly bigint[]): bigint {
  const ids = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * ids.length);
  ids.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return createHash('sha1').update(b).digest().readBigUInt64BE(0);
}

/** The initial members (name, ID, peer URLs) and the cluster ID of a new cluster. */
export function initialMembers(cfg: ServerConfig): { members: { name: string; id: bigint; peerUrls: string[] }[]; clusterId: bigint } {
  const members = [...cfg.initialCluster].map(([name, urls]) => {
    const peerUrls = urls.map(urlString);
    return { name, id: memberId(peerUrls, cfg.initialClusterToken), peerUrls };
  });
  const seen = new Set<bigint>();
  for (const m of members) {
    if (seen.has(m.id)) throw new ConfigError(`member exists with identical ID ${m.id.toString(16)} (${m.name})`);
    if (m.id === 0n) throw new ConfigError('cannot use 0 as member id');
    seen.add(m.id);
  }
  return { members, clusterId: clusterId(members.map((m) => m.id)) };
}
