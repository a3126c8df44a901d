/**
 * Service registration and discovery. `register` runs an instance that announces itself under
 * /services/<name>/<id> with a lease (TTL 5 s) kept alive while it runs; kill it with SIGKILL and
 * it drops out of the listing when the lease expires. `discover` prints every change.
 *
 *   node dist/examples/service_registry.js discover
 *   node dist/examples/service_registry.js register --id a --addr 10.0.0.1:8080
 *   node dist/examples/service_registry.js register --id b --addr 10.0.0.2:8080   # then kill -9 it
 */
import { connect, discover, register } from '../src/client/index.js';
import { arg } from './args.js';

const client = await connect({ endpoints: arg('endpoints', '127.0.0.1:2379').split(',') });
const prefix = `/services/${arg('name', 'api')}`;

if (process.argv[2] === 'register') {
  const reg = await register(client, prefix, arg('id', String(process.pid)), arg('addr', '127.0.0.1:8080'), { ttl: 5 });
  console.log(`registered ${reg.key} -> ${reg.endpoint} under lease ${reg.lease?.toString(16)}; Ctrl-C deregisters`);
  process.on('SIGINT', () => {
    void reg.close().finally(() => client.close());
  });
} else {
  const d = await discover(client, prefix);
  process.on('SIGINT', () => {
    d.close();
    client.close();
  });
  for await (const c of d) {
    console.log(`${c.type === 'put' ? '+' : '-'} ${c.id} ${c.endpoint} (rev ${c.revision}); now:`, Object.fromEntries(d.services));
  }
}
