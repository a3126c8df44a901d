#!/usr/bin/env node
/**
 * etsd: the server binary. Takes etcd's flag names (see src/server/config.ts for the checks
 * and defaults), starts one member, and stops it cleanly on SIGINT/SIGTERM. Bad flags print a
 * clear message and exit with status 2; a start that fails (a corrupt data dir, a port in use)
 * exits with status 1 after logging why.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildConfig, ConfigError, defaults } from '../server/config.js';
import { createLogger } from '../server/logger.js';
import { startMember } from '../server/embed.js';

/** A flag given twice keeps its last value, as Go's flag package (and so etcd) does. */
const lastStr = (v: string | string[]): string => (Array.isArray(v) ? (v[v.length - 1] as string) : v);
const lastNum = (v: number | number[]): number => (Array.isArray(v) ? (v[v.length - 1] as number) : v);

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('etsd')
    .usage('$0 [flags]: an etcd v3 member')
    .option('name', { coerce: lastStr, type: 'string', default: defaults.name, describe: 'human-readable name for this member' })
    .option('data-dir', { coerce: lastStr, type: 'string', describe: 'path to the data directory (default: ${name}.etsd)' })
    .option('listen-client-urls', { coerce: lastStr, type: 'string', default: defaults.listenClientUrls })
    .option('advertise-client-urls', { coerce: lastStr, type: 'string', default: defaults.advertiseClientUrls })
    .option('listen-peer-urls', { coerce: lastStr, type: 'string', default: defaults.listenPeerUrls })
    .option('initial-advertise-peer-urls', { coerce: lastStr, type: 'string', default: defaults.initialAdvertisePeerUrls })
    .option('initial-cluster', { coerce: lastStr, type: 'string', describe: 'initial cluster configuration for bootstrapping' })
    .option('initial-cluster-state', { coerce: lastStr, type: 'string', default: 'new', choices: ['new', 'existing'] })
    .option('initial-cluster-token', { coerce: lastStr, type: 'string', default: defaults.initialClusterToken })
    .option('snapshot-count', { coerce: lastNum, type: 'number', default: defaults.snapshotCount })
    .option('heartbeat-interval', { coerce: lastNum, type: 'number', default: defaults.heartbeatInterval, describe: 'ms' })
    .option('election-timeout', { coerce: lastNum, type: 'number', default: defaults.electionTimeout, describe: 'ms' })
    .option('quota-backend-bytes', { coerce: lastNum, type: 'number', default: defaults.quotaBackendBytes })
    .option('max-request-bytes', { coerce: lastNum, type: 'number', default: defaults.maxRequestBytes })
    .option('experimental-snapshot-catchup-entries', {
      coerce: lastNum,
      type: 'number',
      describe: 'Raft log entries kept after a snapshot for slow followers (etcd 3.5 flag; default 5000)',
    })
    .option('cert-file', { coerce: lastStr, type: 'string', describe: 'Path to the client server TLS cert file.' })
    .option('key-file', { coerce: lastStr, type: 'string', describe: 'Path to the client server TLS key file.' })
    .option('trusted-ca-file', { coerce: lastStr, type: 'string', describe: 'Path to the client server TLS trusted CA cert file (client certificates are then required).' })
    .option('client-cert-auth', { type: 'boolean', default: false, describe: 'Enable client cert authentication.' })
    .option('auto-tls', { type: 'boolean', default: false, describe: 'Client TLS using generated certificates' })
    .option('peer-cert-file', { coerce: lastStr, type: 'string', describe: 'Path to the peer server TLS cert file.' })
    .option('peer-key-file', { coerce: lastStr, type: 'string', describe: 'Path to the peer server TLS key file.' })
    .option('peer-trusted-ca-file', { coerce: lastStr, type: 'string', describe: 'Path to the peer server TLS trusted CA file.' })
    .option('peer-client-cert-auth', { type: 'boolean', default: false, describe: 'Enable peer client cert authentication.' })
    .option('peer-auto-tls', { type: 'boolean', default: false, describe: 'Peer TLS using generated certificates' })
    .option('log-level', { coerce: lastStr, type: 'string', default: defaults.logLevel, choices: ['debug', 'info', 'warn', 'error'] })
    .strict()
    .version(false)
    .help()
    .fail((msg, err) => {
      process.stderr.write(`etsd: ${msg ?? err?.message}\nRun 'etsd --help' for the flags.\n`);
      process.exit(2);
    })
    .parseAsync();
  let cfg;
  try {
    cfg = buildConfig({
      name: argv.name,
      dataDir: argv['data-dir'],
      listenClientUrls: argv['listen-client-urls'],
      advertiseClientUrls: argv['advertise-client-urls'],
      listenPeerUrls: argv['listen-peer-urls'],
      initialAdvertisePeerUrls: argv['initial-advertise-peer-urls'],
      initialCluster: argv['initial-cluster'],
      initialClusterState: argv['initial-cluster-state'],
      initialClusterToken: argv['initial-cluster-token'],
      snapshotCount: argv['snapshot-count'],
      heartbeatInterval: argv['heartbeat-interval'],
      electionTimeout: argv['election-timeout'],
      quotaBackendBytes: argv['quota-backend-bytes'],
      maxRequestBytes: argv['max-request-bytes'],
      logLevel: argv['log-level'],
      certFile: argv['cert-file'],
      keyFile: argv['key-file'],
      trustedCaFile: argv['trusted-ca-file'],
      clientCertAuth: argv['client-cert-auth'],
      autoTls: argv['auto-tls'],
      peerCertFile: argv['peer-cert-file'],
      peerKeyFile: argv['peer-key-file'],
      peerTrustedCaFile: argv['peer-trusted-ca-file'],
      peerClientCertAuth: argv['peer-client-cert-auth'],
      peerAutoTls: argv['peer-auto-tls'],
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`etsd: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(cfg.name, cfg.logLevel);
  let member;
  try {
    const catchUp = argv['experimental-snapshot-catchup-entries'];
    if (catchUp !== undefined && (!Number.isSafeInteger(catchUp) || catchUp < 1)) {
      process.stderr.write('etsd: --experimental-snapshot-catchup-entries must be a positive integer\n');
      process.exit(2);
    }
    member = await startMember(cfg, log, catchUp !== undefined ? { snapshotCatchUpEntries: catchUp } : {});
  } catch (err) {
    log.error('failed to start', { err, message: (err as Error).message });
    log.flush();
    process.stderr.write(`etsd: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const stop = (): void => {
    log.info('received signal, stopping');
    void member.close().then(() => {
      log.flush();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  void member.server.done.then((err) => {
    if (err !== undefined) {
      log.flush();
      process.exit(1);
    }
  });
}

void main();
