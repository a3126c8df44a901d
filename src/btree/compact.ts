/**
 * compactTo: copies every bucket, nested bucket, sequence and key of the committed state into a
 * new file, densely (fill 100%), committing every btreeCompactTxBytes. This is what etcd's
 * defrag does; the copy has no free pages, so it is as small as the data allows.
 */
import { InvalidArgumentError } from '../util/errors.js';
import { btreeCompactTxBytes } from '../limits.js';
import type { Bucket } from './bucket.js';
import { BUCKET_VALUE } from './cursor.js';
import type { Db } from './db.js';
import type { Tx } from './tx.js';

export function compactDb(src: Db, dstPath: string, opts: { noSync?: boolean; txMaxBytes?: number }): void {
  if (src.fs.exists(dstPath) && src.fs.fileSize(dstPath) > 0) throw new InvalidArgumentError(`compactTo: ${dstPath} already exists`);
  // Import cycle avoidance: Db is a class value here only through the instance's constructor.
  const DbClass = src.constructor as new (file: string, o: object) => Db;
  const dst = new DbClass(dstPath, { pageSize: src.pageSize, noSync: opts.noSync ?? false, fileLayer: src.fs });
  const txMax = opts.txMaxBytes ?? btreeCompactTxBytes;
  try {
    src.view((stx) => {
      let wtx: Tx = dst.begin(true);
      let bytes = 0;
      const resolve = (path: Buffer[]): Bucket => {
        let b = wtx.root;
        for (const n of path) b = b.bucket(n)!;
        b.fillPercent = 1;
        return b;
      };
      const copy = (sb: Bucket, path: Buffer[]): void => {
        const c = sb.cursor();
        let db = resolve(path);
        for (let e = c.first(); e !== undefined; e = c.next()) {
          if (e[1] === BUCKET_VALUE) {
            const name = Buffer.from(e[0]);
            const child = sb.bucket(name)!;
            const nb = db.createBucket(name);
            nb.setSequence(child.sequence());
            copy(child, [...path, name]);
            db = resolve(path);
            continue;
          }
          db.put(e[0], e[1]);
          bytes += e[0].length + e[1].length;
          if (bytes >= txMax) {
            wtx.commit();
            wtx = dst.begin(true);
            bytes = 0;
            db = resolve(path);
          }
        }
      };
      copy(stx.root, []);
      if (stx.root.sequence() !== 0) wtx.root.setSequence(stx.root.sequence());
      wtx.commit();
    });
  } finally {
    dst.close();
  }
}
