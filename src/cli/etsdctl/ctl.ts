/**
 * etsdctl's command line (yargs): etcdctl v3's global flags and commands. `runCtl` parses argv,
 * runs one command against an EtcdApiFactory and returns the exit code; it writes only through
 * the CtlIo it is given, so tests run it in-process with a fake API and captured output.
 */
import yargs, { type Argv } from 'yargs';
import type { EtcdApiFactory } from './api.js';
import { Ctx, parseGoDurationMs, type CtlIo, type GlobalFlags } from './context.js';
import { CtlExitError, ExitBadArgs, ExitError, errorText, flagError } from './exit.js';
import { OUTPUT_FORMATS } from './printer.js';
import { GET_DEFAULTS } from './ops.js';
import { compactionCommand, delCommand, getCommand, putCommand, txnCommand } from './commands/kv.js';
import { leaseGrant, leaseKeepAlive, leaseList, leaseRevoke, leaseTimeToLive } from './commands/lease.js';
import { memberAdd, memberList, memberPromote, memberRemove, memberUpdate } from './commands/member.js';
import {
  alarmDisarm, alarmList, defrag, endpointHashKV, endpointHealth, endpointStatus, moveLeader,
} from './commands/maintenance.js';
import { watchCommand } from './commands/watch.js';
import { electCommand, lockCommand } from './commands/concurrency.js';
import { snapshotSave, snapshotStatusCommand } from './commands/snapshot.js';
import { snapshotRestoreCommand } from './commands/restore.js';
import { checkPerfCommand } from './commands/check.js';

export const ETSDCTL_VERSION = '3.4.23';
export const ETSDCTL_API_VERSION = '3.4';

type Flags = Record<string, unknown>;
type Run = (ctx: Ctx, args: string[], f: Flags, dashdash: string[]) => Promise<void> | void;

interface FlagDef { type: 'boolean' | 'string' | 'int'; default: unknown; alias?: string; describe: string }
interface CommandDef { path: string; describe: string; usage?: string; flags?: Record<string, FlagDef>; run: Run }

const b = (describe: string, alias?: string): FlagDef => ({ type: 'boolean', default: false, describe, ...(alias ? { alias } : {}) });
const s = (def: string, describe: string): FlagDef => ({ type: 'string', default: def, describe });
const i = (def: number, describe: string): FlagDef => ({ type: 'int', default: def, describe });

const COMMANDS: CommandDef[] = [
  {
    path: 'get', usage: '<key> [range_end]', describe: 'Gets the key or a range of keys',
    flags: {
      consistency: s('l', 'Linearizable(l) or Serializable(s)'), order: s('', 'Order of results; ASCEND or DESCEND (ASCEND by default)'),
      'sort-by': s('', 'Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION'), limit: i(0, 'Maximum number of results'),
      prefix: b('Get keys with matching prefix'), 'from-key': b('Get keys that are greater than or equal to the given key using byte compare'),
      rev: i(0, 'Specify the kv revision'), 'keys-only': b('Get only the keys'), 'count-only': b('Get only the count'),
      'print-value-only': b('Only write values when using the "simple" output format'),
    },
    run: (ctx, a, f) => getCommand(ctx, a, {
      ...GET_DEFAULTS, consistency: f.consistency as string, order: f.order as string, sortBy: f['sort-by'] as string,
      limit: f.limit as number, prefix: f.prefix as boolean, fromKey: f['from-key'] as boolean, rev: f.rev as number,
      keysOnly: f['keys-only'] as boolean, countOnly: f['count-only'] as boolean, printValueOnly: f['print-value-only'] as boolean,
    }),
  },
  {
    path: 'put', usage: '<key> <value>', describe: 'Puts the given key into the store',
    flags: {
      lease: s('0', 'lease ID (in hexadecimal) to attach to the key'), 'prev-kv': b('return the previous key-value pair before modification'),
      'ignore-value': b('updates the key using its current value'), 'ignore-lease': b('updates the key using its current lease'),
    },
    run: (ctx, a, f) => putCommand(ctx, a, { lease: f.lease as string, prevKv: f['prev-kv'] as boolean, ignoreValue: f['ignore-value'] as boolean, ignoreLease: f['ignore-lease'] as boolean }),
  },
  {
    path: 'del', usage: '<key> [range_end]', describe: 'Removes the specified key or range of keys [key, range_end)',
    flags: { prefix: b('delete keys with matching prefix'), 'prev-kv': b('return deleted key-value pairs'), 'from-key': b('delete keys that are greater than or equal to the given key using byte compare') },
    run: (ctx, a, f) => delCommand(ctx, a, { prefix: f.prefix as boolean, prevKv: f['prev-kv'] as boolean, fromKey: f['from-key'] as boolean }),
  },
  {
    path: 'txn', describe: 'Txn processes all the requests in one transaction', flags: { interactive: b('Input transaction in interactive mode', 'i') },
    run: (ctx, a, f) => txnCommand(ctx, a, { interactive: f.interactive as boolean }),
  },
  {
    path: 'compaction', usage: '<revision>', describe: 'Compacts the event history in etcd',
    flags: { physical: b("'true' to wait for compaction to physically remove all old revisions") },
    run: (ctx, a, f) => compactionCommand(ctx, a, { physical: f.physical as boolean }),
  },
  {
    path: 'watch', usage: '[key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]', describe: 'Watches events stream on keys or prefixes',
    flags: {
      interactive: b('Interactive mode', 'i'), prefix: b('Watch on a prefix if prefix is set'), rev: i(0, 'Revision to start watching'),
      'prev-kv': b('get the previous key-value pair before the event happens'), 'progress-notify': b('get periodic watch progress notification from server'),
    },
    run: (ctx, a, f, dd) => watchCommand(ctx, a, dd, { interactive: f.interactive as boolean, prefix: f.prefix as boolean, rev: f.rev as number, prevKv: f['prev-kv'] as boolean, progressNotify: f['progress-notify'] as boolean }),
  },
  { path: 'lease grant', usage: '<ttl>', describe: 'Creates leases', run: (ctx, a) => leaseGrant(ctx, a) },
  { path: 'lease revoke', usage: '<leaseID>', describe: 'Revokes leases', run: (ctx, a) => leaseRevoke(ctx, a) },
  { path: 'lease timetolive', usage: '<leaseID> [options]', describe: 'Get lease information', flags: { keys: b('Get keys attached to this lease') }, run: (ctx, a, f) => leaseTimeToLive(ctx, a, { keys: f.keys as boolean }) },
  { path: 'lease list', describe: 'List all active leases', run: (ctx) => leaseList(ctx) },
  { path: 'lease keep-alive', usage: '[options] <leaseID>', describe: 'Keeps leases alive (renew)', flags: { once: b('Resets the keep-alive time to its original value and exits immediately') }, run: (ctx, a, f) => leaseKeepAlive(ctx, a, { once: f.once as boolean }) },
  { path: 'member list', describe: 'Lists all members in the cluster', run: (ctx) => memberList(ctx) },
  {
    path: 'member add', usage: '<memberName> [options]', describe: 'Adds a member into the cluster',
    flags: { 'peer-urls': s('', 'comma separated peer URLs for the new member.'), learner: b('indicates if the new member is raft learner') },
    run: (ctx, a, f) => memberAdd(ctx, a, { peerUrls: f['peer-urls'] as string, learner: f.learner as boolean }),
  },
  { path: 'member remove', usage: '<memberID>', describe: 'Removes a member from the cluster', run: (ctx, a) => memberRemove(ctx, a) },
  { path: 'member update', usage: '<memberID> [options]', describe: 'Updates a member in the cluster', flags: { 'peer-urls': s('', 'comma separated peer URLs for the updated member.') }, run: (ctx, a, f) => memberUpdate(ctx, a, { peerUrls: f['peer-urls'] as string }) },
  { path: 'member promote', usage: '<memberID>', describe: 'Promotes a non-voting member in the cluster', run: (ctx, a) => memberPromote(ctx, a) },
  { path: 'endpoint health', describe: 'Checks the healthiness of endpoints specified in `--endpoints` flag', flags: { cluster: b('use all endpoints from the cluster member list') }, run: (ctx, _a, f) => endpointHealth(ctx, { cluster: f.cluster as boolean }) },
  { path: 'endpoint status', describe: 'Prints out the status of endpoints specified in `--endpoints` flag', flags: { cluster: b('use all endpoints from the cluster member list') }, run: (ctx, _a, f) => endpointStatus(ctx, { cluster: f.cluster as boolean }) },
  { path: 'endpoint hashkv', describe: 'Prints the KV history hash for each endpoint in --endpoints', flags: { cluster: b('use all endpoints from the cluster member list'), rev: i(0, 'maximum revision to hash (default: all revisions)') }, run: (ctx, _a, f) => endpointHashKV(ctx, { cluster: f.cluster as boolean, rev: f.rev as number }) },
  { path: 'alarm list', describe: 'Lists all alarms', run: (ctx, a) => alarmList(ctx, a) },
  { path: 'alarm disarm', describe: 'Disarms all alarms', run: (ctx, a) => alarmDisarm(ctx, a) },
  {
    path: 'defrag', describe: 'Defragments the storage of the etcd members with given endpoints',
    flags: { cluster: b('use all endpoints from the cluster member list'), 'data-dir': s('', 'Optional. If present, defragments a data directory not in use by etcd.') },
    run: (ctx, _a, f) => defrag(ctx, { cluster: f.cluster as boolean, dataDir: f['data-dir'] as string }),
  },
  { path: 'move-leader', usage: '<transferee-member-id>', describe: 'Transfers leadership to another etcd cluster member.', run: (ctx, a) => moveLeader(ctx, a) },
  { path: 'snapshot save', usage: '<filename>', describe: 'Stores an etcd node backend snapshot to a given file', run: (ctx, a) => snapshotSave(ctx, a) },
  { path: 'snapshot status', usage: '<filename>', describe: 'Gets backend snapshot status of a given file', run: (ctx, a) => snapshotStatusCommand(ctx, a) },
  {
    path: 'snapshot restore', usage: '<filename> [options]', describe: 'Restores an etcd member snapshot to an etcd directory',
    flags: {
      'data-dir': s('', 'Path to the data directory'), 'wal-dir': s('', 'Path to the WAL directory (use --data-dir if none given)'),
      'initial-cluster': s('default=http://localhost:2380', 'Initial cluster configuration for restore bootstrap'),
      'initial-cluster-token': s('etcd-cluster', 'Initial cluster token for the etcd cluster during restore bootstrap'),
      'initial-advertise-peer-urls': s('http://localhost:2380', "List of this member's peer URLs to advertise to the rest of the cluster"),
      name: s('default', 'Human-readable name for this member'),
      'skip-hash-check': b('Ignore snapshot integrity hash value (required if copied from data directory)'),
    },
    run: (ctx, a, f) => snapshotRestoreCommand(ctx, a, {
      dataDir: f['data-dir'] as string, walDir: f['wal-dir'] as string, initialCluster: f['initial-cluster'] as string,
      initialClusterToken: f['initial-cluster-token'] as string, initialAdvertisePeerUrls: f['initial-advertise-peer-urls'] as string,
      name: f.name as string, skipHashCheck: f['skip-hash-check'] as boolean,
    }),
  },
  { path: 'lock', usage: '<lockname> [exec-command arg1 arg2 ...]', describe: 'Acquires a named lock', flags: { ttl: i(10, 'timeout for session') }, run: (ctx, a, f, dd) => lockCommand(ctx, [...a, ...dd], { ttl: f.ttl as number }) },
  { path: 'elect', usage: '<election-name> [proposal]', describe: 'Observes and participates in leader election', flags: { listen: b('observation mode', 'l') }, run: (ctx, a, f) => electCommand(ctx, a, { listen: f.listen as boolean }) },
  {
    path: 'check perf', describe: 'Check the performance of the etcd cluster',
    flags: {
      load: s('s', "The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)"),
      prefix: s('/etcdctl-check-perf/', "The prefix for writing the performance check's keys."),
      'auto-compact': b('Compact storage with last revision after test is finished.'), 'auto-defrag': b('Defragment storage after test is finished.'),
    },
    run: (ctx, _a, f) => checkPerfCommand(ctx, { load: f.load as string, prefix: f.prefix as string, autoCompact: f['auto-compact'] as boolean, autoDefrag: f['auto-defrag'] as boolean }),
  },
  { path: 'version', describe: 'Prints the version of etcdctl', run: (ctx) => ctx.out(`etcdctl version: ${ETSDCTL_VERSION}\nAPI version: ${ETSDCTL_API_VERSION}\n`) },
];

const GLOBAL_FLAGS: Record<string, FlagDef> = {
  endpoints: s('127.0.0.1:2379', 'gRPC endpoints'),
  'dial-timeout': s('2s', 'dial timeout for client connections'),
  'command-timeout': s('5s', 'timeout for short running command (excluding dial timeout)'),
  'keepalive-time': s('2s', 'keepalive time for client connections'),
  'keepalive-timeout': s('6s', 'keepalive timeout for client connections'),
  'write-out': { type: 'string', default: 'simple', alias: 'w', describe: 'set the output format (fields, json, protobuf, simple, table)' },
  hex: b('print byte strings as hex encoded strings'),
  debug: b('enable client-side debug logging'),
  'insecure-transport': { type: 'boolean', default: true, describe: 'disable transport security for client connections' },
  'insecure-skip-tls-verify': b('skip server certificate verification'),
  'insecure-discovery': { type: 'boolean', default: true, describe: 'accept insecure SRV records describing cluster endpoints' },
  // No default: an explicit empty string is an error etcdctl reports (tls_flags.ts).
  cert: { type: 'string', default: undefined, describe: 'identify secure client using this TLS certificate file' },
  key: { type: 'string', default: undefined, describe: 'identify secure client using this TLS key file' },
  cacert: { type: 'string', default: undefined, describe: 'verify certificates of TLS-enabled secure servers using this CA bundle' },
  user: s('', 'username[:password] for authentication (prompt if password is not supplied)'),
  password: s('', 'password for authentication (if this option is used, --user option shouldn\'t include password)'),
  'discovery-srv': { type: 'string', default: '', alias: 'd', describe: 'domain name to query for SRV records describing cluster endpoints' },
  'discovery-srv-name': s('', 'service name to query when using DNS discovery'),
};

function addFlags(y: Argv, flags: Record<string, FlagDef>): Argv {
  for (const [name, d] of Object.entries(flags)) {
    y = y.option(name, {
      type: d.type === 'boolean' ? 'boolean' : 'string', default: d.default === undefined ? undefined : d.type === 'int' ? String(d.default) : d.default,
      describe: d.describe, ...(d.alias ? { alias: d.alias } : {}),
    });
  }
  return y;
}

/** pflag's int parsing, with its error. */
function intFlag(name: string, v: unknown): number {
  const t = String(v);
  if (!/^[+-]?\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw flagError(`invalid argument ${JSON.stringify(t)} for "--${name}" flag: strconv.ParseInt: parsing ${JSON.stringify(t)}: invalid syntax`);
  }
  return Number(t);
}

function globals(argv: Flags): GlobalFlags {
  const dur = (n: string): number => {
    try {
      return parseGoDurationMs(String(argv[n]));
    } catch (e) {
      throw flagError(`invalid argument ${JSON.stringify(argv[n])} for "--${n}" flag: ${(e as Error).message}`);
    }
  };
  const w = String(argv['write-out']);
  return {
    endpoints: String(argv.endpoints).split(',').filter((e) => e !== ''),
    dialTimeoutMs: dur('dial-timeout'),
    commandTimeoutMs: dur('command-timeout'),
    commandTimeoutSet: argv['command-timeout'] !== '5s',
    writeOut: (OUTPUT_FORMATS as readonly string[]).includes(w) ? w : w,
    hex: argv.hex === true,
    debug: argv.debug === true,
    user: String(argv.user ?? ''),
    password: String(argv.password ?? ''),
    tls: {
      cert: argv.cert === undefined ? undefined : String(argv.cert),
      key: argv.key === undefined ? undefined : String(argv.key),
      cacert: argv.cacert === undefined ? undefined : String(argv.cacert),
      insecureTransport: argv['insecure-transport'] !== false,
      insecureSkipVerify: argv['insecure-skip-tls-verify'] === true,
    },
  };
}

/** Runs etsdctl with argv (without the node and script paths); resolves to the exit code. */
export async function runCtl(argv: string[], io: CtlIo, factory: EtcdApiFactory | undefined): Promise<number> {
  let chosen: { def: CommandDef; argv: Flags } | undefined;
  let y = yargs(argv)
    .scriptName('etsdctl')
    .parserConfiguration({
      'populate--': true, 'parse-numbers': false, 'parse-positional-numbers': false, 'camel-case-expansion': false,
      'boolean-negation': false, 'dot-notation': false, 'duplicate-arguments-array': false, 'short-option-groups': false,
    })
    .version(false)
    .help('help')
    .exitProcess(false)
    .strictOptions()
    .fail((msg, err) => {
      if (err) throw err;
      const unknown = /^Unknown arguments?: (.*)$/.exec(msg ?? '');
      if (unknown) throw flagError(`unknown flag: --${unknown[1]!.split(',')[0]!.trim()}`);
      throw new CtlExitError(ExitError, msg ?? 'bad usage');
    });
  y = addFlags(y, GLOBAL_FLAGS);
  const groups = new Map<string, CommandDef[]>();
  for (const def of COMMANDS) {
    const [head, sub] = def.path.split(' ');
    if (sub === undefined) {
      y = y.command(head!, def.describe,
        (yy) => addFlags(yy, def.flags ?? {}), (a) => { chosen = { def, argv: a as Flags }; });
    } else {
      groups.set(head!, [...(groups.get(head!) ?? []), def]);
    }
  }
  for (const [head, defs] of groups) {
    y = y.command(`${head} <command>`, `${head} related commands`, (yy) => {
      let g = yy;
      for (const def of defs) {
        const sub = def.path.split(' ')[1]!;
        g = g.command(sub, def.describe, (z) => addFlags(z, def.flags ?? {}), (a) => { chosen = { def, argv: a as Flags }; });
      }
      return g.demandCommand(1, `${head} needs a subcommand`);
    });
  }
  y = y.demandCommand(1, 'no command given');

  let ctx: Ctx | undefined;
  try {
    const parsed = (await y.parseAsync()) as Flags;
    if (!chosen) return parsed.help ? 0 : ExitBadArgs;
    const { def, argv: a } = chosen;
    const depth = def.path.split(' ').length;
    const positional = ((a._ as unknown[]) ?? []).slice(depth).map(String);
    const dashdash = ((a['--'] as unknown[]) ?? []).map(String);
    const flags: Flags = { ...a };
    for (const [name, d] of Object.entries(def.flags ?? {})) if (d.type === 'int') flags[name] = intFlag(name, a[name]);
    const g = globals(a);
    ctx = new Ctx(g, io, factory);
    if (!(OUTPUT_FORMATS as readonly string[]).includes(g.writeOut)) throw new CtlExitError(4, 'unsupported output format');
    await def.run(ctx, positional, flags, dashdash);
    return 0;
  } catch (e) {
    if (e instanceof CtlExitError) {
      io.stderr(errorText(e));
      return e.exitCode;
    }
    io.stderr(`Error: ${(e as Error).message}\n`);
    return ExitError;
  } finally {
    ctx?.close();
  }
}
