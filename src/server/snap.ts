/**
 * Raft snapshot metadata files, in etcd's format and naming (etcdserver/api/snap):
 *
 *   <data-dir>/member/snap/<term:016x>-<index:016x>.snap
 *
 *   snappb.Snapshot (proto2)
 *   | field | name | type   | meaning                                              |
 *   | ----- | ---- | ------ | ---------------------------------------------------- |
 *   | 1     | crc  | uint32 | CRC-32C (Castagnoli) of `data`                       |
 *   | 2     | data | bytes  | raftpb.Snapshot: metadata (index, term, conf state)  |
 *
 * As in etcd 3.4 the state itself is not in the file: it is the db beside it (`snap/db`),
 * whose consistent index is at least the snapshot's index. The file is written to a temporary
 * name, fsynced and renamed, so a crash leaves either the old or the new file.
 */
import { join } from 'node:path';
import type { FileLayer } from '../util/file_layer.js';
import { crc32c } from '../util/crc32c.js';
import { walpb, raftpb } from '../proto/index.js';
import type { Snapshot } from '../raft/index.js';
import { snapshotFromPb, snapshotToPb } from './raft_codec.js';
import { CorruptDataError } from './errors.js';

const SNAP_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapFileName(term: number, index: number): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

export class Snapshotter {
  constructor(
    readonly dir: string,
    private readonly fl: FileLayer,
  ) {}

  /** Writes the snapshot's metadata file durably. */
  save(s: Snapshot): void {
    const data = raftpb.Snapshot.encode(snapshotToPb({ ...s, data: new Uint8Array(0) }));
    const bytes = walpb.SnapFile.encode({ crc: crc32c(data), data });
    const name = snapFileName(s.metadata.term, s.metadata.index);
    const tmp = join(this.dir, name + '.tmp');
    const fd = this.fl.open(tmp, 'w+');
    try {
      this.fl.write(fd, bytes, 0, bytes.length, 0);
      this.fl.fsync(fd);
    } finally {
      this.fl.close(fd);
    }
    this.fl.rename(tmp, join(this.dir, name));
    this.fl.fsyncDir(this.dir);
  }

  /** Snap file names, newest first. */
  names(): string[] {
    if (!this.fl.exists(this.dir)) return [];
    return this.fl
      .readdir(this.dir)
      .filter((n) => SNAP_RE.test(n))
      .sort()
      .reverse();
  }

  /** The newest snapshot, or undefined when there is none; a damaged file is an error naming it. */
  loadNewest(): Snapshot | undefined {
    const name = this.names()[0];
    return name === undefined ? undefined : this.load(name);
  }

  /** Reads one snap file by name; a damaged file is an error naming it. */
  load(name: string): Snapshot {
    const path = join(this.dir, name);
    const size = this.fl.fileSize(path);
    const buf = new Uint8Array(size);
    const fd = this.fl.open(path, 'r');
    try {
      this.fl.read(fd, buf, 0, size, 0);
    } finally {
      this.fl.close(fd);
    }
    let file: walpb.SnapFile;
    try {
      file = walpb.SnapFile.decode(buf);
    } catch (err) {
      throw new CorruptDataError(path, 'snapshot file does not decode', { cause: err });
    }
    if (file.data === undefined || file.data.length === 0) throw new CorruptDataError(path, 'empty snapshot');
    if (crc32c(file.data) !== file.crc) throw new CorruptDataError(path, 'snapshot crc mismatch');
    const snap = snapshotFromPb(raftpb.Snapshot.decode(file.data));
    const m = SNAP_RE.exec(name)!;
    if (snap.metadata.term !== parseInt(m[1]!, 16) || snap.metadata.index !== parseInt(m[2]!, 16)) {
      throw new CorruptDataError(path, 'snapshot metadata does not match its file name');
    }
    return snap;
  }

  /** Deletes all but the newest `keep` snap files (etcd's --max-snapshots purge). */
  purge(keep: number): void {
    for (const n of this.names().slice(keep)) this.fl.unlink(join(this.dir, n));
  }
}
