/**
 * Leader election with failover: run it in two or three terminals. One process leads (and
 * proclaims a heartbeat value every second); the others wait in line. Kill the leader (Ctrl-C
 * resigns at once; SIGKILL lets its lease expire after the TTL) and the next one takes over.
 * `observe` prints every leader change and proclamation in order.
 *
 *   node dist/examples/leader_election.js campaign --name worker-1
 *   node dist/examples/leader_election.js observe
 */
import { connect, toText, Election, Session } from '../src/client/index.js';
import { arg } from './args.js';

const client = await connect({ endpoints: arg('endpoints', '127.0.0.1:2379').split(',') });
const session = await Session.create(client, { ttl: Number(arg('ttl', '5')) });
const election = new Election(session, arg('election', '/examples/election'));

if (process.argv[2] === 'observe') {
  for await (const kv of election.observe()) console.log(`leader ${toText(kv.key)}: ${toText(kv.value)}`);
} else {
  const name = arg('name', `candidate-${process.pid}`);
  process.on('SIGINT', () => {
    void election.resign().finally(() => session.close().finally(() => client.close()));
  });
  console.log(`${name}: campaigning`);
  await election.campaign(`${name} since ${new Date().toISOString()}`);
  console.log(`${name}: I am the leader`);
  let beat = 0;
  const timer = setInterval(() => {
    election.proclaim(`${name} beat ${++beat}`).catch((err: Error) => {
      console.log(`${name}: lost leadership (${err.message})`);
      clearInterval(timer);
    });
  }, 1000);
  void session.done.then((end) => console.log(`${name}: session ended (${end.reason})`));
}
