/**
 * Child process for the crash test: opens the db, then commits forever, printing "ack <n>"
 * after commit n is durable. Commit n puts k<n> (some values overflow a page), sets the
 * counter to n and deletes k<n-100>, so pages are freed and reused all the time.
 * Usage: node crash_child.js <file> <first n> <seed>
 */
import { openDb } from '../../src/btree/index.js';
import { Prng } from '../../src/util/prng.js';
import { writeSync } from 'node:fs';

const [file, firstArg, seedArg] = process.argv.slice(2);
const prng = new Prng(Number(seedArg));
const db = openDb(file!);
for (let n = Number(firstArg); ; n++) {
  db.update((tx) => {
    const b = tx.createBucketIfNotExists('crash');
    const size = prng.chance(0.1) ? prng.range(4000, 30000) : prng.range(1, 300);
    b.put(Buffer.from(`k${n}`), Buffer.alloc(size, n & 0xff));
    b.put(Buffer.from('counter'), Buffer.from(String(n)));
    b.delete(Buffer.from(`k${n - 100}`));
    if (n % 7 === 0) tx.createBucketIfNotExists('side').put(Buffer.from(`s${n % 50}`), Buffer.alloc(n % 500, 1));
  });
  writeSync(1, `ack ${n}\n`);
}
