// JSON Schema validators for the records the gateway reads from and writes to Kafka.
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
  command: 'command.schema.json',
  commandResult: 'command-result.schema.json',
  presence: 'presence.schema.json',
  commandRoute: 'command-route.schema.json',
  securityEvent: 'security-event.schema.json',
  idToken: 'id-token.schema.json',
  authorizationRequest: 'authorization-request.schema.json',
  authorizationDecision: 'authorization-decision.schema.json',
  stationRegistry: 'station-registry.schema.json',
  billingSession: 'billing-session.schema.json',
  schemaViolations: 'schema-violations.schema.json',
};

function loadSchema(file) {
  return JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'));
}

function buildValidators() {
  // strict: the schemas themselves must be clean draft-07 (no unknown
  // keywords); allowUnionTypes for `"type": ["string", "null"]`.
  // strictRequired off: the command-result schema's conditionals say which
  // fields a status requires or forbids (`then: {required: [...]}`,
  // `not: {required: [...]}`) without repeating their definitions.
  const ajv = new Ajv({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
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
/** Returns {ok, errors, message} for an operator command (ocpp.commands). */
export const checkCommand = makeCheck('command');
/** Returns {ok, errors, message} for a command result (ocpp.command-results). */
export const checkCommandResult = makeCheck('commandResult');
/** Returns {ok, errors, message} for a presence record (station or gateway liveness). */
export const checkPresence = makeCheck('presence');
/** Returns {ok, errors, message} for a command route (ocpp.command-routes). */
export const checkCommandRoute = makeCheck('commandRoute');
/** Returns {ok, errors, message} for a gateway-made security event (ocpp.security, header ocpp-source: gateway). */
export const checkSecurityEvent = makeCheck('securityEvent');
/** Returns {ok, errors, message} for a token table entry (ocpp.id-tokens, written by operators). */
export const checkIdToken = makeCheck('idToken');
/** Returns {ok, errors, message} for a token question (ocpp.authorization-requests, ask mode). */
export const checkAuthorizationRequest = makeCheck('authorizationRequest');
/** Returns {ok, errors, message} for an operator's decision (ocpp.authorization-decisions, ask mode). */
export const checkAuthorizationDecision = makeCheck('authorizationDecision');
/** Returns {ok, errors, message} for a station registry entry (ocpp.stations, written by operators). */
export const checkStationRegistry = makeCheck('stationRegistry');
/** Returns {ok, errors, message} for a session record of the reference billing consumer (billing.sessions). */
export const checkBillingSession = makeCheck('billingSession');
/** Returns {ok, errors, message} for a report of schema refusals per station model (ocpp.schema-violations). */
export const checkSchemaViolations = makeCheck('schemaViolations');

const CHECKS = {
  stationEvent: checkStationEvent,
  connectionEvent: checkConnectionEvent,
  deadLetter: checkDeadLetter,
  command: checkCommand,
  commandResult: checkCommandResult,
  presence: checkPresence,
  commandRoute: checkCommandRoute,
  securityEvent: checkSecurityEvent,
  idToken: checkIdToken,
  authorizationRequest: checkAuthorizationRequest,
  authorizationDecision: checkAuthorizationDecision,
  stationRegistry: checkStationRegistry,
  billingSession: checkBillingSession,
  schemaViolations: checkSchemaViolations,
};

/**
 * Throws an AssertionError-like Error naming the record when `value` does not
 * match the schema `kind` ('stationEvent' | 'connectionEvent' | 'deadLetter' |
 * 'command' | 'commandResult' | 'presence' | 'commandRoute' | 'securityEvent' | 'idToken' | 'authorizationRequest' | 'authorizationDecision' | 'stationRegistry' | 'billingSession' | 'schemaViolations').
 */
export function assertSchema(kind, value, where = '') {
  const check = CHECKS[kind];
  if (!check) throw new Error(`unknown schema kind ${kind}`);
  const res = check(value);
  if (!res.ok) {
    const err = new Error(`${where ? where + ': ' : ''}record does not match ${SCHEMA_FILES[kind]}: ${res.message}\nvalue: ${JSON.stringify(value)}`);
    err.name = 'SchemaError';
    throw err;
  }
}
