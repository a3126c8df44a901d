/**
 * Child process of defrag_kill.test.ts: opens (on the first run, fills and compacts) a store,
 * prints `state <revision> <hashKV>`, starts a defragment (the copy in a worker thread) and
 * prints `started`; the parent SIGKILLs it at a random moment of the copy or the swap.
 */
import { openStore } from '../../src/mvcc/index.js';

const dir = process.argv[2]!;
const st = openStore(dir, { leaseExpiry: 'caller' });
if (st.revision === 1) {
  const value = Buffer.alloc(512, 0x63);
  for (let i = 0; i < 6000; i++) {
    st.put({ key: Buffer.from(`k${i % 200}`), value });
    if (i % 1000 === 999) st.sync();
  }
  st.compact({ revision: st.revision - 100 });
  st.sync();
}
process.stdout.write(`state ${st.revision} ${st.hashKV().hash}\n`);
const p = st.defragment();
process.stdout.write('started\n');
p.then(
  (r) => {
    process.stdout.write(`done ${r.copy}\n`);
    st.close();
  },
  (err) => {
    process.stderr.write(`defragment failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
