/**
 * Configuration hot reload: a running process keeps its settings under a prefix and applies
 * every change as it happens (a watch on the prefix, started right after the initial read, so no
 * change falls in between).
 *
 *   node dist/examples/config_reload.js [--endpoints 127.0.0.1:2379] [--prefix /config/app/]
 *   etsdctl put /config/app/log-level debug     # (or etcdctl) in another terminal
 */
import { connect, toText } from '../src/client/index.js';
import { arg } from './args.js';

const client = await connect({ endpoints: arg('endpoints', '127.0.0.1:2379').split(',') });
const prefix = arg('prefix', '/config/app/');
const config = new Map<string, string>();

const first = await client.kv.get(prefix, { prefix: true });
for (const kv of first.kvs) config.set(toText(kv.key).slice(prefix.length), toText(kv.value));
console.log(`config at revision ${first.header?.revision}:`, Object.fromEntries(config));

const watch = await client.watch.watch(prefix, { prefix: true, startRevision: (first.header?.revision ?? 0) + 1 });
process.on('SIGINT', () => {
  client.close();
});
for await (const r of watch) {
  for (const ev of r.events) {
    const name = toText(ev.kv.key).slice(prefix.length);
    if (ev.type === 0) config.set(name, toText(ev.kv.value));
    else config.delete(name);
  }
  console.log(`config at revision ${r.revision}:`, Object.fromEntries(config));
}
