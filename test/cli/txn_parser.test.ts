/** etcdctl's txn syntax: compares, op lines, quoting, and etcdctl's messages for bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argify, parseCompare, parseRequestOp, parseTxn } from '../../src/cli/etsdctl/txn_parser.js';
import { CtlExitError } from '../../src/cli/etsdctl/exit.js';
import { CompareResult, CompareTarget, SortOrder, SortTarget } from '../../src/proto/index.js';

const str = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('latin1');

function fails(fn: () => unknown, code: number, message: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CtlExitError, String(e));
    assert.equal(e.message, message);
    assert.equal(e.exitCode, code);
    return true;
  });
}

test('compares: every target and operator, with their short names', () => {
  const c1 = parseCompare('value("foo") = "bar"');
  assert.deepEqual([c1.target, c1.result, str(c1.key), str(c1.value)], [CompareTarget.VALUE, CompareResult.EQUAL, 'foo', 'bar']);
  const c2 = parseCompare('mod("k") > "5"');
  assert.deepEqual([c2.target, c2.result, c2.modRevision], [CompareTarget.MOD, CompareResult.GREATER, 5]);
  const c3 = parseCompare('c("k") < "10"');
  assert.deepEqual([c3.target, c3.result, c3.createRevision], [CompareTarget.CREATE, CompareResult.LESS, 10]);
  const c4 = parseCompare('ver("k") != "0"');
  assert.deepEqual([c4.target, c4.result, c4.version], [CompareTarget.VERSION, CompareResult.NOT_EQUAL, 0]);
  const c5 = parseCompare('val("a\\x00b") = `raw\\n`');
  assert.deepEqual([str(c5.key), str(c5.value)], ['a\u0000b', 'raw\\n']);
  // A zero revision is still a present oneof member (etcdctl sends mod_revision: 0).
  assert.equal(parseCompare('m("k") = "0"').modRevision, 0);
});

test('compares: etcdctl\'s messages for malformed lines', () => {
  fails(() => parseCompare('value "foo" = "bar"'), 3, 'malformed comparison: value "foo" = "bar"');
  fails(() => parseCompare('value("foo") = bar'), 3, 'malformed comparison: value("foo") = bar; got value("foo") = ""');
  fails(() => parseCompare('mod(foo) > "1"'), 3, 'malformed comparison: mod(foo) > "1"; got mod("")  ""');
  fails(() => parseCompare('mod("foo") > "x1"'), 3, 'invalid txn compare request: mod("foo") > "x1"');
  fails(() => parseCompare('bogus("foo") = "bar"'), 3, 'malformed comparison: bogus("foo") = "bar" (unknown target bogus)');
});

test('op lines: get/put/del with flags, quoting like etcdctl\'s argify', () => {
  const g = parseRequestOp('get foo --prefix --sort-by=MODIFY --order DESCEND --limit=2 --rev 9 --keys-only').requestRange!;
  assert.deepEqual([str(g.key), str(g.rangeEnd), g.sortTarget, g.sortOrder, g.limit, g.revision, g.keysOnly],
    ['foo', 'fop', SortTarget.MOD, SortOrder.DESCEND, 2, 9, true]);
  const p = parseRequestOp('put "a b" "c\\td" --prev-kv --lease=1f').requestPut!;
  assert.deepEqual([str(p.key), str(p.value), p.prevKv, p.lease], ['a b', 'c\td', true, 0x1fn]);
  const d = parseRequestOp('del k --from-key --prev-kv').requestDeleteRange!;
  assert.deepEqual([str(d.key), [...d.rangeEnd], d.prevKv], ['k', [0], true]);
  assert.deepEqual(argify(`a "b c" 'xy' d`).map((b) => b.toString()), ['a', 'b c', 'xy', 'd']);
  // etcdctl slices a single-quoted token to the token count, not its length: kept on purpose.
  assert.deepEqual(argify(`a 'xyz'`).map((b) => b.toString()), ['a', '']);
});

test('op lines: etcdctl\'s messages and exit codes', () => {
  fails(() => parseRequestOp('put'), 3, 'invalid txn compare request: put');
  fails(() => parseRequestOp('frob a b'), 3, 'invalid txn request: frob a b');
  fails(() => parseRequestOp('get a --nope'), 3, 'invalid txn request: get a --nope');
  fails(() => parseRequestOp('get a --sort-by=X'), 4, 'bad sort target X');
  fails(() => parseRequestOp('put k v --lease zz'), 128, 'bad lease ID (strconv.ParseInt: parsing "zz": invalid syntax), expecting ID in Hex');
});

test('whole input: three blank-line separated blocks, prompts, EOF', () => {
  const prompts: string[] = [];
  const t = parseTxn('value("foo") = "bar"\n  mod("x") > "1"  \n\nput foo baz\nget foo\n\ndel foo\n\n', (s) => prompts.push(s));
  assert.equal(t.compare.length, 2);
  assert.equal(t.success.length, 2);
  assert.equal(t.failure.length, 1);
  assert.deepEqual(prompts, ['compares:', 'success requests (get, put, del):', 'failure requests (get, put, del):']);
  const empty = parseTxn('\n\n\n');
  assert.deepEqual([empty.compare.length, empty.success.length, empty.failure.length], [0, 0, 0]);
  fails(() => parseTxn('value("foo") = "bar"\n'), 3, 'EOF');
  fails(() => parseTxn('\n\nput a b'), 3, 'EOF');
});
