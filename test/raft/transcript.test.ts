/**
 * Transcript tests: replays test/raft/testdata/*.txt (the source files, not dist). Each case is
 * one command line, a line `----`, and the expected output up to a blank line; lines starting
 * with `#` are comments. `REWRITE=1 npm test -- raft/transcript` rewrites the expected outputs
 * in place (review the diff before committing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InteractionEnv } from './interaction/env.js';

// dist/test/raft -> test/raft/testdata in the source tree.
const dir = join(import.meta.dirname, '..', '..', '..', 'test', 'raft', 'testdata');
const rewrite = process.env.REWRITE === '1';

interface Case {
  comments: string[];
  command: string;
  expected: string;
  line: number;
}

function parse(text: string): Case[] {
  const lines = text.split('\n');
  const cases: Case[] = [];
  let comments: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (l.startsWith('#')) {
      comments.push(l);
      i++;
      continue;
    }
    if (l.trim() === '') {
      i++;
      continue;
    }
    const command = l;
    const line = i + 1;
    i++;
    if (lines[i] !== '----') throw new Error(`line ${i + 1}: expected ---- after command`);
    i++;
    const out: string[] = [];
    while (i < lines.length && lines[i] !== '') out.push(lines[i++]!);
    cases.push({ comments, command, expected: out.join('\n'), line });
    comments = [];
  }
  return cases;
}

function render(cases: Case[]): string {
  const parts: string[] = [];
  for (const c of cases) {
    const head = c.comments.length > 0 ? `${c.comments.join('\n')}\n` : '';
    parts.push(`${head}${c.command}\n----\n${c.expected === '' ? 'ok' : c.expected}\n`);
  }
  return parts.join('\n');
}

for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
  test(`transcript ${file}`, () => {
    const path = join(dir, file);
    const cases = parse(readFileSync(path, 'utf8'));
    assert.ok(cases.length > 0, `${file} has no cases`);
    const env = new InteractionEnv();
    const failures: string[] = [];
    for (const c of cases) {
      const [cmd, ...args] = c.command.trim().split(/\s+/);
      let got = env.run(cmd!, args);
      if (got === '') got = 'ok';
      if (rewrite) {
        c.expected = got;
      } else if (got !== c.expected) {
        failures.push(`${file}:${c.line}: ${c.command}\n--- expected\n${c.expected}\n--- got\n${got}`);
      }
    }
    if (rewrite) writeFileSync(path, render(cases));
    assert.deepEqual(failures, []);
  });
}
