// JSON Schema validators for the records the gateway writes to Kafka.
//
// The schemas live in <repo>/schemas/events/ and are draft-07 with
// `format: date-time`, so ajv (draft-07 is its default dialect) is combined
// with ajv-formats, which checks RFC 3339 date-times including the offset.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { REPO_ROOT } from './paths.mjs';

export const SCHEMA_DIR = join(REPO_ROOT, 'schemas', 'events');

const SCHEMA_FILES = {
  stationEvent: 'station-event.schema.json',
  connectionEvent: 'connection-event.schema.json',
  deadLetter: 'dead-letter.schema.json',
};

function loadSchema(file) {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'));
}

function buildValidators() {
  // strict: the schemas themselves must be clean draft-07 (no unknown
  // keywords); allowUnionTypes for `"type": ["string", "null"]`.
  const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  const out = {};
  for (const [name, file] of Object.entries(SCHEMA_FILES)) {
    out[name] = ajv.compile(loadSchema(file));
  }
  return out;
}

const validators = buildValidators();

function describeErrors(errors) {
  return (errors ?? [])
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ' ' + JSON.stringify(e.params) : ''}`)
    .join('; ');
}

function makeCheck(name) {
  const validate = validators[name];
  const fn = (value) => {
    const ok = validate(value);
    return { ok, errors: ok ? [] : [...validate.errors], message: ok ? '' : describeErrors(validate.errors) };
  };
  return fn;
}

/** Returns {ok, errors, message} for a station-event record value. */
export const checkStationEvent = makeCheck('stationEvent');
/** Returns {ok, errors, message} for a connection-event record value. */
export const checkConnectionEvent = makeCheck('connectionEvent');
/** Returns {ok, errors, message} for a dead-letter record value. */
export const checkDeadLetter = makeCheck('deadLetter');

/**
 * Throws an AssertionError-like Error naming the record when `value` does not
 * match the schema `kind` ('stationEvent' | 'connectionEvent' | 'deadLetter').
 */
export function assertSchema(kind, value, where = '') {
  const check = { stationEvent: checkStationEvent, connectionEvent: checkConnectionEvent, deadLetter: checkDeadLetter }[kind];
  if (!check) throw new Error(`unknown schema kind ${kind}`);
  const res = check(value);
  if (!res.ok) {
    const err = new Error(`${where ? where + ': ' : ''}record does not match ${SCHEMA_FILES[kind]}: ${res.message}\nvalue: ${JSON.stringify(value)}`);
    err.name = 'SchemaError';
    throw err;
  }
}
