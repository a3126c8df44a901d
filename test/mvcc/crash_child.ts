/**
 * Child process of kill.test.ts: writes a deterministic history (revision r puts key
 * `k${r % 50}` = `v${r}`) and prints `synced <revision>` after each sync() returns, until killed.
 */
import { openStore } from '../../src/mvcc/index.js';
import { Prng } from '../../src/util/prng.js';

const dir = process.argv[2]!;
const prng = new Prng(Number(process.argv[3] ?? 1));
const st = openStore(dir, { leaseExpiry: 'caller' });
function round(): void {
  for (let i = 0; i < 40; i++) {
    const r = st.revision + 1;
    st.put({ key: Buffer.from(`k${r % 50}`), value: Buffer.from(`v${r}`) });
  }
  if (st.revision % 120 === 1 || prng.chance(0.3)) {
    st.sync();
    process.stdout.write(`synced ${st.revision}\n`);
  }
  setImmediate(round);
}
process.stdout.write('ready\n');
round();
