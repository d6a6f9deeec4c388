// Operator commands (docs/commands.md) from the test side: producing command
// records, reading results back, the REST intake, and stations that answer
// the gateway's CALLs.
//
//   CommandClient   kafkajs producer to ocpp.commands + a live reader of
//                   ocpp.command-results started at its end offsets
//   restCall        POST /v1/stations/{id}/calls/{action} on the admin listener
//   restGet         GET on the admin listener
//   assertResult    schema + field-by-field check of a result record
//   connectStation  strict-mode ocpp-rpc station with handlers for the
//                   central system's CALLs, logging both directions
//   isolatedCommands  private command topics + consumer group for one test
//                   file's gateway (see there why)

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import rpc from 'ocpp-rpc';

import { KAFKA_BROKERS, decodeHeaders } from './kafka.mjs';
import { assertSchema } from './schemas.mjs';

const { RPCClient } = rpc;

export const COMMAND_TOPICS = Object.freeze({
  commands: 'ocpp.commands',
  results: 'ocpp.command-results',
  routes: 'ocpp.command-routes',
  presence: 'ocpp.presence',
});

/** RFC 3339 UTC with milliseconds (the result record's timestamps). */
const UTC_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function kafkaLogLevel() {
  switch ((process.env.OCPP_TEST_KAFKA_LOG || '').toLowerCase()) {
    case 'error': return logLevel.ERROR;
    case 'warn': return logLevel.WARN;
    case 'info': return logLevel.INFO;
    case 'debug': return logLevel.DEBUG;
    default: return logLevel.NOTHING;
  }
}

/** Rejects after `ms` with `message` unless `promise` settles first. */
function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Private command topics and consumer group for the gateway of one test file.
 *
 * Every gateway that reads a command topic acts on every record of it: one
 * owner per consumer group, so two gateways in different groups (another
 * test's cluster, a gateway of a concurrently running ctest) both decide on
 * the same command and both write a result. A single-instance test is only
 * deterministic when no other gateway reads its commands: this gives the
 * gateway its own commands, command-results, command-routes and presence
 * topics (created by the gateway at start-up) and its own group.
 *
 * Returns {topics: {commands, results, routes, presence}, group, extraArgs
 * (['--config', file] for startGateway), cleanup()}; cleanup() deletes the
 * config file and the topics.
 */
export function isolatedCommands({ tag = randomBytes(4).toString('hex'), brokers = KAFKA_BROKERS } = {}) {
  const prefix = `it-cmd-${tag}`;
  const topics = {
    commands: `${prefix}.commands`,
    results: `${prefix}.command-results`,
    routes: `${prefix}.command-routes`,
    presence: `${prefix}.presence`,
  };
  const group = `${prefix}-gateways`;
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-commands-'));
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, [
    'topics:',
    `  commands: ${topics.commands}`,
    `  command_results: ${topics.results}`,
    `  command_routes: ${topics.routes}`,
    `  presence: ${topics.presence}`,
    'commands:',
    `  group: ${group}`,
    '',
  ].join('\n'));
  const cleanup = async () => {
    rmSync(dir, { recursive: true, force: true });
    const kafka = new Kafka({ clientId: 'ocpp-interop-commands', brokers: brokers.split(',').map((x) => x.trim()).filter(Boolean), logLevel: kafkaLogLevel() });
    const admin = kafka.admin();
    try {
      await withTimeout(admin.connect(), 10_000, 'timeout');
      const existing = new Set(await admin.listTopics());
      const mine = Object.values(topics).filter((t) => existing.has(t));
      if (mine.length) await withTimeout(admin.deleteTopics({ topics: mine, timeout: 10_000 }), 15_000, 'timeout');
      await admin.deleteGroups([group]).catch(() => {});
    } catch {
      // Leftover topics are harmless (unique names); never fail a test over them.
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
  return { topics, group, configFile, extraArgs: ['--config', configFile], cleanup };
}

const TOPIC_WAIT_MS = 15_000;
const JOIN_WAIT_MS = 30_000;

/**
 * Writes command records and collects every result record produced after
 * start() returned. One instance per test file is enough: results are kept
 * by commandId.
 */
export class CommandClient {
  constructor({ brokers = KAFKA_BROKERS, topics = { commands: COMMAND_TOPICS.commands, results: COMMAND_TOPICS.results } } = {}) {
    this.brokers = brokers.split(',').map((s) => s.trim()).filter(Boolean);
    this.topics = { commands: COMMAND_TOPICS.commands, results: COMMAND_TOPICS.results, ...topics };
    this.kafka = new Kafka({
      clientId: 'ocpp-interop-commands',
      brokers: this.brokers,
      logLevel: kafkaLogLevel(),
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.groupId = `ocpp-interop-results-${randomBytes(8).toString('hex')}`;
    this.admin = null;
    this.producer = null;
    this.consumer = null;
    this.records = [];          // every result record read, in arrival order
    this.unparsed = [];         // result records whose value is not a JSON object with a commandId
    this._byId = new Map();     // commandId -> [records]
    this._waiters = new Set();  // () => void, called on every new record
    this._crashed = null;
  }

  /**
   * Connects the producer and a consumer of the results topic positioned at
   * the topic's current end offsets (taken before this returns, so every
   * result of a command sent afterwards is seen). The topic is created by the
   * gateway at start-up: call this once a gateway is running.
   */
  async start() {
    const admin = this.kafka.admin();
    try {
      await withTimeout(admin.connect(), 15_000, 'timeout');
    } catch (err) {
      await admin.disconnect().catch(() => {});
      throw new Error(`CommandClient: cannot reach Kafka at ${this.brokers.join(',')}: ${err.message}`);
    }
    this.admin = admin;

    // Wait (bounded) for both topics: the gateway creates them when it starts.
    const deadline = Date.now() + TOPIC_WAIT_MS;
    for (;;) {
      const all = new Set(await admin.listTopics());
      const missing = [this.topics.commands, this.topics.results].filter((t) => !all.has(t));
      if (missing.length === 0) break;
      if (Date.now() >= deadline) {
        throw new Error(`CommandClient: topics ${missing.join(', ')} do not exist after ${TOPIC_WAIT_MS} ms (the gateway creates them at start-up: start one first)`);
      }
      // Topic existence is only observable by asking again.
      await new Promise((r) => setTimeout(r, 200));
    }
    const ends = (await admin.fetchTopicOffsets(this.topics.results))
      .map((p) => ({ partition: p.partition, offset: p.high }));

    this.producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.producer.connect();

    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 10_000,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this._crashed = payload.error;
      this._wake();
    });
    let joined;
    const joinedP = new Promise((r) => { joined = r; });
    consumer.on(consumer.events.GROUP_JOIN, () => joined());
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topics.results], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) this._add(batch.partition, m);
      },
    });
    for (const { partition, offset } of ends) {
      consumer.seek({ topic: this.topics.results, partition, offset });
    }
    await withTimeout(joinedP, JOIN_WAIT_MS, `CommandClient: consumer of ${this.topics.results} did not join its group within ${JOIN_WAIT_MS} ms`);
    return this;
  }

  _add(partition, m) {
    const text = m.value == null ? null : m.value.toString('utf8');
    let value = null;
    try { value = text == null ? null : JSON.parse(text); } catch { value = null; }
    const rec = {
      key: m.key == null ? null : m.key.toString('utf8'),
      value,
      headers: decodeHeaders(m.headers),
      partition,
      offset: Number(m.offset),
      text,
    };
    this.records.push(rec);
    const id = value && typeof value === 'object' ? value.commandId : undefined;
    if (typeof id !== 'string') {
      this.unparsed.push(rec);
    } else {
      if (!this._byId.has(id)) this._byId.set(id, []);
      this._byId.get(id).push(rec);
    }
    this._wake();
  }

  _wake() {
    for (const w of [...this._waiters]) w();
  }

  /**
   * Produces one command record (JSON) to the commands topic with key
   * stationId; fields that are undefined are left out. Returns the
   * commandId (a fresh UUID when none is given).
   */
  async send({ commandId, stationId, action, payload, timeoutMs, expiresAt }) {
    const id = commandId === undefined ? randomUUID() : commandId;
    const value = { commandId: id, stationId, action, payload, timeoutMs, expiresAt };
    for (const k of Object.keys(value)) if (value[k] === undefined) delete value[k];
    await this.sendRaw(stationId, JSON.stringify(value));
    return id;
  }

  /** Produces `valueString` verbatim with `key` (null for no key). */
  async sendRaw(key, valueString) {
    await this.produce(this.topics.commands, key, valueString);
  }

  /** Produces `valueString` verbatim with `key` to `topic` (acks=all). */
  async produce(topic, key, valueString) {
    if (!this.producer) throw new Error('CommandClient: start() first');
    await this.producer.send({
      topic,
      acks: -1,
      messages: [{ key: key == null ? null : String(key), value: valueString }],
    });
  }

  /**
   * Resolves the parsed value of the first result record for `commandId`
   * (at once if it was already read); rejects after `timeoutMs`.
   */
  waitResult(commandId, { timeoutMs = 60_000 } = {}) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        if (this._crashed) {
          done();
          reject(new Error(`CommandClient: results consumer crashed: ${this._crashed.message}`));
          return;
        }
        const recs = this._byId.get(commandId);
        if (recs?.length) { done(); resolve(recs[0].value); }
      };
      const done = () => { clearTimeout(timer); this._waiters.delete(check); };
      this._waiters.add(check);
      timer = setTimeout(() => {
        done();
        reject(new Error(`no result for command ${commandId} on ${this.topics.results} within ${timeoutMs} ms `
          + `(${this.records.length} result records read since start, none with this commandId)`));
      }, timeoutMs);
      check();
    });
  }

  /** Every result record read so far for `commandId`: [{key, value, headers, partition, offset}]. */
  resultsFor(commandId) {
    return [...(this._byId.get(commandId) ?? [])];
  }

  async stop() {
    const consumer = this.consumer;
    const producer = this.producer;
    this.consumer = null;
    this.producer = null;
    for (const w of [...this._waiters]) w();
    await Promise.all([
      consumer && withTimeout(consumer.disconnect(), 10_000, 'consumer disconnect').catch(() => {}),
      producer && withTimeout(producer.disconnect(), 10_000, 'producer disconnect').catch(() => {}),
    ]);
    if (this.admin) {
      // No committed offsets; remove the group to keep the broker tidy.
      if (consumer) await this.admin.deleteGroups([this.groupId]).catch(() => {});
      await this.admin.disconnect().catch(() => {});
      this.admin = null;
    }
  }
}

/**
 * One HTTP request to 127.0.0.1:`port`, on a fresh connection, bounded in
 * time. Resolves {status, body (parsed JSON or null), text, headers}.
 */
function adminRequest(port, method, path, { token, headers = {}, body, timeoutMs, chunked = false }) {
  return new Promise((resolve, reject) => {
    const h = { connection: 'close', ...headers };
    if (token !== undefined && token !== null) h.authorization = `Bearer ${token}`;
    let buf = null;
    if (body !== undefined) {
      buf = Buffer.from(body, 'utf8');
      if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'application/json';
      if (chunked) h['transfer-encoding'] = 'chunked';
      else h['content-length'] = String(buf.length);
    }
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent: false, headers: h }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
        resolve({ status: res.statusCode, body: parsed, text, headers: res.headers });
      });
      res.on('error', (err) => { clearTimeout(timer); reject(err); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => { clearTimeout(timer); reject(err); });
    if (buf) req.write(buf);
    req.end();
  });
}

/**
 * POST /v1/stations/{id}/calls/{action} with `payload` as the JSON body
 * (`rawBody`, a string, is sent instead when given). `query` values are
 * added as query parameters (e.g. {wait: 'false', timeoutMs: 5000,
 * commandId: 'x'}); `headers` adds request headers (e.g. Idempotency-Key);
 * `base` replaces `/v1` (a tenant's: `/v1/tenants/{tenant}`); `chunked` sends
 * the body chunked instead of with a Content-Length.
 * Resolves {status, body, text, headers}.
 */
export async function restCall(adminPort, stationId, action, payload, { query = {}, rawQuery, token, timeoutMs = 60_000, rawBody, headers = {}, base = '/v1', chunked = false } = {}) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.append(k, String(v));
  // rawQuery: sent as written (escapes URLSearchParams would not make, such as %FF).
  const q = rawQuery ?? qs.toString();
  const path = `${base}/stations/${encodeURIComponent(stationId)}/calls/${encodeURIComponent(action)}${q ? `?${q}` : ''}`;
  const body = rawBody !== undefined ? rawBody : JSON.stringify(payload);
  return adminRequest(adminPort, 'POST', path, { token, headers, body, timeoutMs, chunked });
}

/** GET `path` (e.g. `/v1/stations/X`) on the admin listener. Resolves {status, body, text, headers}. */
export async function restGet(adminPort, path, { token, timeoutMs = 5_000, headers = {} } = {}) {
  return adminRequest(adminPort, 'GET', path, { token, headers, timeoutMs });
}

/**
 * Polls GET /v1/stations/{id} until it reports `connected` = `connected`
 * (the gateway's presence table has caught up), bounded by `timeoutMs`.
 * Resolves the last body.
 */
export async function waitPresence(adminPort, stationId, { connected = true, token, timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    last = await restGet(adminPort, `/v1/stations/${encodeURIComponent(stationId)}`, { token, timeoutMs: Math.max(1, Math.min(5_000, deadline - Date.now())) });
    if (last.status === 200 && last.body?.connected === connected) return last.body;
    // Presence is only observable by asking again (poll interval).
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`GET /v1/stations/${stationId}: connected never became ${connected} within ${timeoutMs} ms (last: ${last ? `${last.status} ${last.text}` : 'no answer'})`);
}

function timeOf(value, what) {
  const ms = Date.parse(value);
  assert.ok(Number.isFinite(ms), `${what}: ${JSON.stringify(value)} is not a time`);
  return ms;
}

/**
 * Checks a result record value (or a record {key, value, …} from
 * resultsFor) against command-result.schema.json and `expected`:
 *
 *   commandId, stationId, action, status, sent, gatewayId   equal when given
 *   ocppVersion        equal when the key is present (undefined: must be absent)
 *   messageId          equal when given (the id of the CALL the station got)
 *   response           deep-equal when given
 *   error              {code, description?, details?}: each given part equal
 *   errorCode          shorthand for error.code
 *   violations         true: a non-empty array; an array: deep-equal
 *   key                the record key, when a record is passed
 *   window             {from, to} (ms): every timestamp inside it (5 s slack)
 *
 * Timestamps are RFC 3339 UTC with milliseconds, ordered
 * receivedAt ≤ sentAt ≤ completedAt where present. Returns the value.
 */
export function assertResult(result, expected = {}) {
  const isRecord = result && typeof result === 'object' && 'offset' in result && 'value' in result;
  const v = isRecord ? result.value : result;
  const where = `result of ${expected.commandId ?? v?.commandId} (${expected.action ?? v?.action})`;
  assert.ok(v && typeof v === 'object', `${where}: not a JSON object: ${JSON.stringify(v)}`);
  assertSchema('commandResult', v, where);
  if (isRecord && expected.key !== undefined) assert.equal(result.key, expected.key, `${where}: record key`);

  for (const f of ['commandId', 'stationId', 'action', 'status', 'sent', 'gatewayId', 'messageId']) {
    if (expected[f] !== undefined) {
      assert.equal(v[f], expected[f], `${where}: ${f} (status ${v.status}${v.error ? `, error ${JSON.stringify(v.error)}` : ''})`);
    }
  }
  if ('ocppVersion' in expected) assert.equal(v.ocppVersion, expected.ocppVersion, `${where}: ocppVersion`);
  if (expected.response !== undefined) assert.deepEqual(v.response, expected.response, `${where}: response must be the station's CALLRESULT payload verbatim`);
  const error = expected.error ?? (expected.errorCode !== undefined ? { code: expected.errorCode } : undefined);
  if (error) {
    assert.ok(v.error, `${where}: error missing`);
    if (error.code !== undefined) assert.equal(v.error.code, error.code, `${where}: error.code (description ${JSON.stringify(v.error.description)})`);
    if (error.description !== undefined) {
      if (error.description instanceof RegExp) assert.match(v.error.description, error.description, `${where}: error.description`);
      else assert.equal(v.error.description, error.description, `${where}: error.description`);
    }
    if (error.details !== undefined) assert.deepEqual(v.error.details, error.details, `${where}: error.details`);
  }
  if (expected.violations === true) {
    assert.ok(Array.isArray(v.violations) && v.violations.length > 0, `${where}: violations must be a non-empty array`);
  } else if (expected.violations !== undefined) {
    assert.deepEqual(v.violations, expected.violations, `${where}: violations`);
  }

  const stamps = ['receivedAt', 'sentAt', 'completedAt'].filter((k) => v[k] !== undefined);
  let prev = null;
  for (const k of stamps) {
    assert.match(v[k], UTC_MILLIS, `${where}: ${k} must be RFC 3339 UTC with milliseconds`);
    const ms = timeOf(v[k], `${where}: ${k}`);
    if (prev) assert.ok(ms >= prev.ms, `${where}: ${k} ${v[k]} is before ${prev.k} ${v[prev.k]}`);
    if (expected.window) {
      const slack = 5_000;
      assert.ok(ms >= expected.window.from - slack && ms <= (expected.window.to ?? Date.now()) + slack,
        `${where}: ${k} ${v[k]} is outside the test's time window`);
    }
    prev = { k, ms };
  }
  return v;
}

/**
 * Connects a strict-mode ocpp-rpc station (`protocol` 'ocpp1.6' |
 * 'ocpp2.0.1') to ws://127.0.0.1:`port`/ocpp/`stationId` and registers
 * `handlers`: {Action: (params, ctx) => response}. A handler may be async,
 * may throw an RPCError (createRPCError) to answer with a CALLERROR, and gets
 * ctx = {messageId, signal, client, afterReply(fn)}: afterReply runs `fn`
 * once the CALLRESULT / CALLERROR has been written to the socket (e.g. to
 * send StartTransaction after accepting RemoteStartTransaction).
 *
 * Returns the RPCClient with logs attached:
 *   client.received        CALLs from the gateway [{action, messageId, params, at}]
 *                          (recorded before the handler runs)
 *   client.sent            the station's own CALLs [{action, messageId, payload, reply, error, sentAt, repliedAt}]
 *   client.strictFailures  ocpp-rpc strict-mode validation failures
 *   client.closed          promise of {code, reason} when the connection ends
 *   client.onCall(fn)      fn(entry) for each CALL from the gateway; returns an unsubscribe function
 */
export async function connectStation({ port, stationId, protocol, handlers = {}, callTimeoutMs = 15_000, host = '127.0.0.1', path = '/ocpp' }) {
  const client = new RPCClient({
    endpoint: `ws://${host}:${port}${path}`,
    identity: stationId,
    protocols: [protocol],
    strictMode: true,
    reconnect: false,
    callTimeoutMs,
    pingIntervalMs: 0,
    respondWithDetailedErrors: true,
  });
  client.received = [];
  client.sent = [];
  client.strictFailures = [];
  const listeners = new Set();
  client.onCall = (fn) => { listeners.add(fn); return () => listeners.delete(fn); };
  const afterReply = new Map();   // messageId -> [fn]
  const sentById = new Map();

  client.on('strictValidationFailure', (e) => client.strictFailures.push(e));
  client.on('message', ({ message, outbound }) => {
    let frame;
    try { frame = JSON.parse(message); } catch { return; }
    if (!Array.isArray(frame)) return;
    if (outbound) {
      if (frame[0] === 2) {
        const entry = { action: frame[2], messageId: frame[1], payload: frame[3], reply: undefined, error: undefined, sentAt: Date.now(), repliedAt: null };
        sentById.set(frame[1], entry);
        client.sent.push(entry);
      } else if (frame[0] === 3 || frame[0] === 4) {
        // Our answer to a gateway CALL is on its way: run what waits for it
        // once the write has been issued (sendRaw follows this event).
        const fns = afterReply.get(frame[1]);
        if (fns) {
          afterReply.delete(frame[1]);
          setImmediate(() => { for (const fn of fns) Promise.resolve().then(fn).catch((err) => client.emit('afterReplyError', err)); });
        }
      }
      return;
    }
    if (frame[0] === 2) {
      const entry = { action: frame[2], messageId: frame[1], params: frame[3], at: Date.now() };
      client.received.push(entry);
      for (const fn of [...listeners]) fn(entry);
      return;
    }
    const entry = (frame[0] === 3 || frame[0] === 4) ? sentById.get(frame[1]) : undefined;
    if (entry && entry.repliedAt === null) {
      entry.repliedAt = Date.now();
      if (frame[0] === 3) entry.reply = frame[2];
      else entry.error = { code: frame[2], description: frame[3], details: frame[4] };
    }
  });
  client.closeInfo = null;
  client.closed = new Promise((resolve) => {
    client.on('close', (info) => { client.closeInfo = info; resolve(info); });
  });

  for (const [action, fn] of Object.entries(handlers)) {
    client.handle(action, ({ params, messageId, signal }) => fn(params, {
      messageId,
      signal,
      client,
      afterReply: (cb) => {
        if (!afterReply.has(messageId)) afterReply.set(messageId, []);
        afterReply.get(messageId).push(cb);
      },
    }));
  }

  await client.connect();
  if (client.protocol !== protocol) {
    await client.close({ force: true }).catch(() => {});
    throw new Error(`${stationId}: negotiated subprotocol ${JSON.stringify(client.protocol)}, expected ${protocol}`);
  }
  return client;
}

/** The CALLs the gateway sent to `client` for `action` (from client.received). */
export function callsOf(client, action) {
  return client.received.filter((c) => c.action === action);
}

/**
 * Resolves the first CALL from the gateway (entry of client.received) for
 * which `pred(entry)` holds, including ones already received; rejects after
 * `timeoutMs`.
 */
export function nextCall(client, pred, { timeoutMs = 20_000, what = 'a CALL from the gateway' } = {}) {
  const found = client.received.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const off = client.onCall((entry) => {
      if (pred(entry)) { off(); clearTimeout(timer); resolve(entry); }
    });
    const timer = setTimeout(() => { off(); reject(new Error(`${what}: not received within ${timeoutMs} ms`)); }, timeoutMs);
  });
}

/** Closes every client given, forcefully (after hooks); never throws. */
export async function closeStations(...clients) {
  await Promise.all(clients.flat().filter(Boolean).map((c) => c.close({ force: true }).catch(() => {})));
}
