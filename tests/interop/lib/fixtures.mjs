// The invalid-frame fixtures of tests/fixtures/<version>/invalid/.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES_DIR } from './paths.mjs';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isValidUtf8(buf) {
  try {
    utf8.decode(buf);
    return true;
  } catch {
    return false;
  }
}

/**
 * All cases of cases.tsv for `subprotocol` ('ocpp1.6' | 'ocpp2.0.1'):
 * [{file, number, code, id, description, bytes, validUtf8}].
 */
export function loadInvalidCases(subprotocol) {
  const dir = join(FIXTURES_DIR, subprotocol, 'invalid');
  const lines = readFileSync(join(dir, 'cases.tsv'), 'utf8').split('\n').filter((l) => l.length > 0);
  const header = lines.shift().split('\t');
  if (header.join(',') !== 'file,code,id,description') throw new Error(`unexpected cases.tsv header: ${header.join(',')}`);
  return lines.map((line) => {
    const [file, code, id, description] = line.split('\t');
    const bytes = readFileSync(join(dir, file));
    return { file, number: file.slice(0, 3), code, id, description, bytes, validUtf8: isValidUtf8(bytes) };
  });
}

/** The cases whose file numbers (e.g. '001') are listed, failing on unknown numbers. */
export function selectCases(all, numbers) {
  const byNumber = new Map(all.map((c) => [c.number, c]));
  return numbers.map((n) => {
    const c = byNumber.get(n);
    if (!c) throw new Error(`no fixture case ${n}`);
    return c;
  });
}
