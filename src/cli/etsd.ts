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

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('etsd')
    .usage('$0 [flags]: an etcd v3 member')
    .option('name', { type: 'string', default: defaults.name, describe: 'human-readable name for this member' })
    .option('data-dir', { type: 'string', describe: 'path to the data directory (default: ${name}.etsd)' })
    .option('listen-client-urls', { type: 'string', default: defaults.listenClientUrls })
    .option('advertise-client-urls', { type: 'string', default: defaults.advertiseClientUrls })
    .option('listen-peer-urls', { type: 'string', default: defaults.listenPeerUrls })
    .option('initial-advertise-peer-urls', { type: 'string', default: defaults.initialAdvertisePeerUrls })
    .option('initial-cluster', { type: 'string', describe: 'initial cluster configuration for bootstrapping' })
    .option('initial-cluster-state', { type: 'string', default: 'new', choices: ['new', 'existing'] })
    .option('initial-cluster-token', { type: 'string', default: defaults.initialClusterToken })
    .option('snapshot-count', { type: 'number', default: defaults.snapshotCount })
    .option('heartbeat-interval', { type: 'number', default: defaults.heartbeatInterval, describe: 'ms' })
    .option('election-timeout', { type: 'number', default: defaults.electionTimeout, describe: 'ms' })
    .option('quota-backend-bytes', { type: 'number', default: defaults.quotaBackendBytes })
    .option('max-request-bytes', { type: 'number', default: defaults.maxRequestBytes })
    .option('log-level', { type: 'string', default: defaults.logLevel, choices: ['debug', 'info', 'warn', 'error'] })
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
    member = await startMember(cfg, log);
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
