// Operator commands with three gateway instances sharing one Kafka.
//
// Thirty stations (OCPP 1.6 and 2.0.1, ocpp-rpc in strict mode) are spread
// round-robin over three instances. Every station answers the central
// system's calls with a payload derived from the request (a configuration
// key echoed back, a status chosen by a number in the request), so a result
// can be matched to its command and checked against what the station said.
//
// a. Presence propagates: every instance's GET /v1/stations/{id} shows each
//    station connected on the instance that holds it. Then 1,000 commands to
//    random stations, most through ocpp.commands, a share through REST on a
//    random instance: every one Completed by the holder, exactly one result
//    each (also after a few seconds of watching for late duplicates), the
//    REST answer is the result record, and each station saw exactly the
//    CALLs addressed to it (message id and payload of the result).
// b. A station that moves (closes on A, connects to B) and a station that
//    connects to B while still connected to A (the gateway closes the old
//    session cluster-wide): later commands are Completed by B. One commandId
//    written at once for two stations on two instances, twenty times: each
//    record gets its own result or a dead-letter record (the id was taken),
//    never none and never both; the stations see only the CALLs of results.
// c. One instance is killed with SIGKILL while each of its stations holds an
//    unanswered CALL: each of those commands still gets exactly one result
//    (NotConnected or Superseded, sent: true). Its stations reconnect to the
//    survivors (the test's own reconnect logic) and later commands reach
//    them; a station that does not reconnect gets NotConnected once the dead
//    instance's liveness record is stale. No command of the whole file has a
//    second result after the failover.
// d. An instance is killed while one of its stations holds an unanswered
//    CALL and started again at once under the same gatewayId (a container
//    restarted in place): to the others the id never stops being alive, yet
//    the command its first run held ends NotConnected (GatewayUnavailable,
//    sent: true) once, written by another instance.
// e. An instance is frozen (SIGSTOP) while one of its stations holds an
//    unanswered CALL, as a long stall or a cut to Kafka would leave it: the
//    others end the command GatewayUnavailable. The station answers, the
//    instance is thawed and reads the answer, but writes no second result
//    (it counts the one it withheld).
//
// The instances use the default consumer group, like every gateway on the
// broker: another test's gateway running at the same time is part of the
// cluster (a group of their own would make it a second owner of every
// command).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import rpc from 'ocpp-rpc';

import { startGateway, uniqueStationId, randomHex } from '../lib/gateway.mjs';
import { KAFKA_BROKERS, TopicReader, TOPICS } from '../lib/kafka.mjs';
import { until, eventually } from '../lib/until.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { CommandClient, restCall, restGet, assertResult } from '../lib/commands.mjs';
import { checkCommandResult } from '../lib/schemas.mjs';

const { RPCClient, createRPCError } = rpc;

const INSTANCES = 3;
const STATIONS = 30;
const COMMANDS = 1_000;
const REST_EVERY = 5;                      // every 5th command of (a) goes through REST (20 %)
const WORKERS = 48;                        // commands of (a) in flight at once, at most
const PER_STATION_IN_FLIGHT = 3;           // well below any sensible per-station queue bound
const RESULT_TIMEOUT_MS = 30_000;          // one command, send → result (the station answers at once)
const PRESENCE_TIMEOUT_MS = 30_000;
const REUSED_IDS = 20;                     // (b) one commandId for two stations on two instances
const OBSERVE_MS = 5_000;                  // after the last result: watch for duplicates this long
// commands.instance_timeout for these gateways (--instance-timeout-ms): a
// dead instance's liveness record is stale after this long.
const INSTANCE_TIMEOUT_MS = 5_000;
// After SIGKILL the dead instance's share of ocpp.commands partitions moves
// to the survivors only after the consumer group's session timeout
// (commands.group_session_timeout_ms; 6 s is its minimum): commands keyed to
// those partitions wait until then.
const GROUP_SESSION_TIMEOUT_MS = 6_000;
const FAILOVER_TIMEOUT_MS = 90_000;
const RECONNECT_TIMEOUT_MS = 20_000;

const boot = (protocol) => JSON.parse(readFileSync(join(FIXTURES_DIR, protocol, 'requests', 'BootNotification.json'), 'utf8'));
const versionOf = (protocol) => (protocol === 'ocpp1.6' ? '1.6' : '2.0.1');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the station's answers

const CHANGE_STATUS = ['Accepted', 'Rejected', 'RebootRequired', 'NotSupported'];
const SET_STATUS = ['Accepted', 'Rejected', 'RebootRequired'];
const COMPONENT = { name: 'ClusterTest' };

/** The CALLRESULT payload a station gives for `action` with `params`; undefined: not handled. */
function answer(protocol, action, params) {
  if (protocol === 'ocpp1.6') {
    switch (action) {
      case 'ChangeConfiguration': return { status: CHANGE_STATUS[Number(params.value) % CHANGE_STATUS.length] };
      case 'GetConfiguration': return { configurationKey: (params.key ?? []).map((key) => ({ key, readonly: false, value: `v:${key}` })), unknownKey: [] };
      case 'Reset': return { status: params.type === 'Hard' ? 'Accepted' : 'Rejected' };
      default: return undefined;
    }
  }
  switch (action) {
    case 'GetVariables': return {
      getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable, attributeValue: `v:${d.variable.name}` })),
    };
    case 'SetVariables': return {
      setVariableResult: params.setVariableData.map((d) => ({ attributeStatus: SET_STATUS[Number(d.attributeValue) % SET_STATUS.length], component: d.component, variable: d.variable })),
    };
    case 'Reset': return { status: params.type === 'Immediate' ? 'Accepted' : 'Scheduled' };
    default: return undefined;
  }
}

/** Command number `n` for a station of `protocol`: [action, payload], every payload distinct where the action allows. */
function commandFor(protocol, n) {
  const tag = `k${n}-${randomHex(3)}`;
  if (protocol === 'ocpp1.6') {
    switch (n % 3) {
      case 0: return ['ChangeConfiguration', { key: tag, value: String(n) }];
      case 1: return ['GetConfiguration', { key: [tag] }];
      default: return ['Reset', { type: n % 2 ? 'Hard' : 'Soft' }];
    }
  }
  switch (n % 3) {
    case 0: return ['GetVariables', { getVariableData: [{ component: COMPONENT, variable: { name: tag } }] }];
    case 1: return ['SetVariables', { setVariableData: [{ attributeValue: String(n), component: COMPONENT, variable: { name: tag } }] }];
    default: return ['Reset', { type: n % 2 ? 'Immediate' : 'OnIdle' }];
  }
}

// ---------------------------------------------------------------- stations

/**
 * One station identity; over its life it may hold several connections (to
 * different instances). `seen` logs every CALL the central system sent it,
 * with the instance of the connection it arrived on.
 */
class SimStation {
  constructor(identity, protocol) {
    this.identity = identity;
    this.protocol = protocol;
    this.seen = [];            // {messageId, method, params, gatewayId, conn, at}
    this.conn = null;          // the current connection
    this.connections = [];
    this.onLost = null;        // (conn) => void, when the current connection closes
    this.hang = false;         // true: CALLs from the gateway are never answered
    this.hold = null;          // a promise: CALLs are answered once it resolves
  }

  get gateway() {
    return this.conn?.gw;
  }

  /** Connects to `gw` (without closing an existing connection) and sends BootNotification. */
  async connect(gw) {
    const client = new RPCClient({
      endpoint: gw.endpoint,
      identity: this.identity,
      protocols: [this.protocol],
      strictMode: true,
      reconnect: false,
      callTimeoutMs: 15_000,
      pingIntervalMs: 0,
      respondWithDetailedErrors: true,
    });
    const conn = { client, gw, opened: false, closeInfo: null, closedAt: null, strictFailures: [] };
    conn.closed = new Promise((resolve) => {
      client.on('close', (info) => {
        conn.closeInfo = info;
        conn.closedAt = Date.now();
        resolve(info);
        if (conn.opened && this.conn === conn) this.onLost?.(conn);
      });
    });
    client.on('strictValidationFailure', (e) => conn.strictFailures.push(e));
    client.handle(({ messageId, method, params, signal }) => {
      this.seen.push({ messageId, method, params, gatewayId: gw.gatewayId, conn, at: Date.now() });
      if (this.hang) {
        // No answer: the CALL stays outstanding until the connection ends.
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('connection ended')), { once: true }));
      }
      const reply = answer(this.protocol, method, params);
      if (reply === undefined) throw createRPCError('NotImplemented', `${method} is not handled by this test station`);
      if (this.hold) return this.hold.then(() => reply);
      return reply;
    });
    const previous = this.conn;
    // The current connection from now on, so that the old one closing (a
    // duplicate identity) is not taken for a lost connection.
    this.conn = conn;
    try {
      await client.connect();
      if (client.protocol !== this.protocol) throw new Error(`${this.identity}: negotiated ${client.protocol}, expected ${this.protocol}`);
      conn.opened = true;
      this.connections.push(conn);
      await client.call('BootNotification', boot(this.protocol));
    } catch (err) {
      if (this.conn === conn) this.conn = previous;
      await client.close({ force: true }).catch(() => {});
      throw err;
    }
    return conn;
  }

  async closeAll() {
    for (const c of this.connections) await c.client.close({ force: true }).catch(() => {});
  }
}

// ---------------------------------------------------------------- helpers

/** Polls GET /v1/stations/{id} on `gateways` until each shows every station of `expect` connected on its instance. */
async function waitPresence(gateways, expect, timeoutMs = PRESENCE_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let pending = [];
  for (;;) {
    pending = [];
    for (const gw of gateways) {
      await Promise.all(expect.map(async ({ station, gatewayId }) => {
        let r;
        try {
          r = await restGet(gw.adminPort, `/v1/stations/${encodeURIComponent(station.identity)}`);
        } catch (err) {
          pending.push(`${gw.gatewayId} → ${station.identity}: ${err.message}`);
          return;
        }
        const b = r.body;
        if (r.status !== 200 || !b || b.connected !== true || b.gatewayId !== gatewayId || b.ocppVersion !== versionOf(station.protocol)) {
          pending.push(`${gw.gatewayId} → ${station.identity}: HTTP ${r.status} ${r.text ?? JSON.stringify(b)} (want connected on ${gatewayId})`);
        }
      }));
    }
    if (pending.length === 0) return Date.now();
    if (Date.now() >= deadline) break;
    await sleep(200);
  }
  throw new Error(`presence not propagated within ${timeoutMs} ms; ${pending.length} instance/station pairs wrong, e.g.:\n  ${pending.slice(0, 10).join('\n  ')}`);
}

/** A counting semaphore per station. */
class Slots {
  constructor(limit) { this.limit = limit; this.used = new Map(); this.waiters = new Map(); }
  async acquire(key) {
    while ((this.used.get(key) ?? 0) >= this.limit) {
      await new Promise((r) => { const q = this.waiters.get(key) ?? []; q.push(r); this.waiters.set(key, q); });
    }
    this.used.set(key, (this.used.get(key) ?? 0) + 1);
  }
  release(key) {
    this.used.set(key, this.used.get(key) - 1);
    this.waiters.get(key)?.shift()?.();
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function countBy(items, f) {
  const out = {};
  for (const x of items) { const k = f(x); out[k] = (out[k] ?? 0) + 1; }
  return out;
}

describe('operator commands across three gateway instances', () => {
  const gateways = [];
  const stations = [];
  let client;
  const runId = randomHex(4);
  let seq = 0;
  const killed = new Set();   // the instances killed on purpose, (c) and (d)
  let gatewayArgs = [];
  let configDir = null;
  const allCmds = [];         // every command sent, for the last duplicate check

  const pick = (arr) => arr[Math.floor(Math.random() * arr.length)];

  /** A command record for `station` (not sent yet); `via` is 'topic' or a gateway (REST). */
  const newCommand = (station, via) => {
    const n = seq++;
    const [action, payload] = commandFor(station.protocol, n);
    const cmd = { commandId: `itcl-${runId}-${n}`, station, action, payload, via, result: null, error: null, http: null };
    allCmds.push(cmd);
    return cmd;
  };

  /** Sends `cmd` and waits for its result; never throws (the outcome is on `cmd`). */
  const run = async (cmd, timeoutMs = RESULT_TIMEOUT_MS) => {
    cmd.sentAt = Date.now();
    try {
      if (cmd.via === 'topic') {
        await client.send({ commandId: cmd.commandId, stationId: cmd.station.identity, action: cmd.action, payload: cmd.payload });
        cmd.result = await client.waitResult(cmd.commandId, { timeoutMs });
      } else {
        const r = await restCall(cmd.via.adminPort, cmd.station.identity, cmd.action, cmd.payload, { query: { commandId: cmd.commandId }, timeoutMs });
        cmd.http = r.status;
        if (r.status === 200) cmd.result = r.body;
        else cmd.error = `REST on ${cmd.via.gatewayId}: HTTP ${r.status} ${r.text}`;
      }
    } catch (err) {
      cmd.error = `${cmd.via === 'topic' ? 'topic' : `REST on ${cmd.via.gatewayId}`}: ${err.message}`;
    }
    cmd.doneAt = Date.now();
    return cmd;
  };

  /**
   * Every command Completed by `holder(cmd)` with the station's answer; each
   * station saw, since `since.get(station)`, exactly these commands' CALLs
   * (one per command: message id, action and payload of the result).
   */
  const checkCompleted = (cmds, { holder, since, what }) => {
    const problems = [];
    for (const c of cmds) {
      const id = `${c.commandId} (${c.action} → ${c.station.identity} via ${c.via === 'topic' ? 'topic' : `REST ${c.via.gatewayId}`})`;
      if (c.error) { problems.push(`${id}: ${c.error}`); continue; }
      const r = c.result;
      if (r?.status !== 'Completed') { problems.push(`${id}: status ${r?.status} ${JSON.stringify(r?.error ?? null)}`); continue; }
      const schema = checkCommandResult(r);
      if (!schema.ok) problems.push(`${id}: result breaks command-result.schema.json: ${schema.message}`);
      const want = holder(c);
      const fields = { commandId: c.commandId, stationId: c.station.identity, action: c.action, gatewayId: want, ocppVersion: versionOf(c.station.protocol), sent: true };
      for (const [k, v] of Object.entries(fields)) {
        if (r[k] !== v) problems.push(`${id}: ${k} ${JSON.stringify(r[k])}, expected ${JSON.stringify(v)}`);
      }
      const expectedResponse = answer(c.station.protocol, c.action, c.payload);
      if (!isDeepStrictEqual(r.response, expectedResponse)) problems.push(`${id}: response ${JSON.stringify(r.response)}, expected ${JSON.stringify(expectedResponse)}`);
      if (r.responseViolations !== undefined) problems.push(`${id}: responseViolations ${JSON.stringify(r.responseViolations)}`);
      const calls = c.station.seen.slice(since.get(c.station)).filter((s) => s.messageId === r.messageId && s.gatewayId === r.gatewayId);
      if (calls.length !== 1) problems.push(`${id}: the station saw ${calls.length} CALLs with message id ${r.messageId} on ${r.gatewayId}`);
      else if (calls[0].method !== c.action || !isDeepStrictEqual(calls[0].params, c.payload)) {
        problems.push(`${id}: CALL ${calls[0].method} ${JSON.stringify(calls[0].params)} differs from the command`);
      }
    }
    // Nothing else reached the stations: one CALL per command, no more.
    const perStation = countBy(cmds, (c) => c.station.identity);
    for (const s of since.keys()) {
      const got = s.seen.length - since.get(s);
      const want = perStation[s.identity] ?? 0;
      if (got !== want) problems.push(`${s.identity}: saw ${got} CALLs, ${want} commands were addressed to it`);
    }
    assert.deepEqual(problems.slice(0, 25), [], `${what}: ${problems.length} problems (first 25 shown); statuses ${JSON.stringify(countBy(cmds, (c) => c.result?.status ?? 'no result'))}`);
  };

  /** No commandId of `cmds` has more than one result record; a REST answer equals its record. */
  const checkOneResultEach = (cmds, what) => {
    const problems = [];
    for (const c of cmds) {
      const recs = client.resultsFor(c.commandId);
      if (recs.length !== 1) {
        problems.push(`${c.commandId}: ${recs.length} result records ${JSON.stringify(recs.map((x) => `${x.value?.status}@${x.value?.gatewayId} p${x.partition}/${x.offset}`))}`);
        continue;
      }
      if (recs[0].key?.toLowerCase() !== c.station.identity.toLowerCase()) problems.push(`${c.commandId}: result key ${recs[0].key}`);
      if (c.via !== 'topic' && c.result && !isDeepStrictEqual(recs[0].value, c.result)) {
        problems.push(`${c.commandId}: REST answer ${JSON.stringify(c.result)} differs from the record ${JSON.stringify(recs[0].value)}`);
      }
    }
    assert.deepEqual(problems.slice(0, 25), [], `${what}: ${problems.length} commands without exactly one result (first 25 shown)`);
  };

  const sinceNow = (list) => new Map(list.map((s) => [s, s.seen.length]));

  /**
   * A command to `station` (which does not answer at once), sent through the topic: resolves
   * once the station has its CALL, with the command, the station's count of CALLs before it
   * and `runCmd`, which settles with the result (or the error) on the command.
   */
  const commandHeldBy = async (station) => {
    const since = station.seen.length;
    const cmd = newCommand(station, 'topic');
    const runCmd = (async () => {
      cmd.sentAt = Date.now();
      try {
        await client.send({ commandId: cmd.commandId, stationId: station.identity, action: cmd.action, payload: cmd.payload, timeoutMs: 120_000 });
        cmd.result = await client.waitResult(cmd.commandId, { timeoutMs: FAILOVER_TIMEOUT_MS });
      } catch (err) {
        cmd.error = err.message;
      }
      cmd.doneAt = Date.now();
    })();
    const deadline = Date.now() + RESULT_TIMEOUT_MS;
    while (station.seen.length === since && Date.now() < deadline) await sleep(20);
    assert.equal(station.seen.length - since, 1, `${station.identity} did not get the CALL of ${cmd.commandId}`);
    return { cmd, since, runCmd };
  };

  const logOnFailure = (fn) => async (t) => {
    try {
      return await fn(t);
    } catch (err) {
      for (const gw of gateways) {
        gw.failed = true;
        process.stderr.write(`\n[${t.name}] failed; --- gateway output (${gw.gatewayId}, pid ${gw.pid}${gw.running ? '' : `, exited ${JSON.stringify(gw.exitInfo)}`}) ---\n${gw.outputTail(80)}\n--- end of ${gw.gatewayId} ---\n`);
      }
      throw err;
    }
  };

  before(async () => {
    // The instances join the default consumer group on ocpp.commands, like
    // every gateway on this broker: one cluster. (A group of their own would
    // make a second, independent owner of every command whenever another
    // test's gateway runs against the same broker.)
    configDir = mkdtempSync(join(tmpdir(), 'ocpp-cluster-'));
    const configFile = join(configDir, 'gateway.yaml');
    writeFileSync(configFile, `commands:\n  group_session_timeout_ms: ${GROUP_SESSION_TIMEOUT_MS}\n`);
    // Debug logs: every command CALL a session sends is logged, for failure reports.
    const args = ['--config', configFile, '--instance-timeout-ms', String(INSTANCE_TIMEOUT_MS), '--log-level', 'debug'];
    gatewayArgs = args;
    for (let i = 0; i < INSTANCES; i++) {
      gateways.push(await startGateway({ gatewayId: `it-cl${i}-${runId}`, extraArgs: args }));
    }
    // After the first gateway: it creates the command topics.
    client = new CommandClient({ brokers: KAFKA_BROKERS });
    await client.start();
    for (let i = 0; i < STATIONS; i++) {
      const protocol = i % 2 ? 'ocpp2.0.1' : 'ocpp1.6';
      const s = new SimStation(uniqueStationId(protocol === 'ocpp1.6' ? 'ITCL16' : 'ITCL201'), protocol);
      await s.connect(gateways[i % INSTANCES]);
      stations.push(s);
    }
  });

  after(async () => {
    for (const s of stations) await s.closeAll();
    const errors = [];
    for (const gw of gateways) {
      if (killed.has(gw)) {
        await gw.discard();  // killed on purpose
        continue;
      }
      await gw.stop().catch((err) => errors.push(err));
    }
    await client?.stop();
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    if (errors.length) throw errors[0];
  });

  test('a: presence propagates; 1,000 commands (topic and REST) each Completed once by the holder, each station saw exactly its own', logOnFailure(async (t) => {
    const t0 = Date.now();
    await waitPresence(gateways, stations.map((s) => ({ station: s, gatewayId: s.gateway.gatewayId })));
    t.diagnostic(`presence of ${STATIONS} stations on all ${INSTANCES} instances after ${Date.now() - t0} ms`);
    for (const gw of gateways) {
      const r = await restGet(gw.adminPort, '/v1/stations');
      assert.equal(r.status, 200, `GET /v1/stations on ${gw.gatewayId}`);
      const listed = new Set((r.body?.stations ?? []).map((x) => String(x.stationId).toLowerCase()));
      const missing = stations.filter((s) => !listed.has(s.identity.toLowerCase())).map((s) => s.identity);
      assert.deepEqual(missing, [], `GET /v1/stations on ${gw.gatewayId}: connected stations missing from the list`);
    }

    const since = sinceNow(stations);
    const cmds = [];
    for (let i = 0; i < COMMANDS; i++) cmds.push(newCommand(pick(stations), i % REST_EVERY === 0 ? pick(gateways) : 'topic'));
    const slots = new Slots(PER_STATION_IN_FLIGHT);
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (next < cmds.length) {
        const c = cmds[next++];
        await slots.acquire(c.station);
        try { await run(c); } finally { slots.release(c.station); }
      }
    }));
    const elapsed = Date.now() - started;
    const ms = cmds.filter((c) => c.result).map((c) => c.doneAt - c.sentAt).sort((x, y) => x - y);
    t.diagnostic(`${COMMANDS} commands (${cmds.filter((c) => c.via !== 'topic').length} via REST) in ${elapsed} ms; `
      + `round trip p50 ${percentile(ms, 50)} p99 ${percentile(ms, 99)} max ${ms.at(-1)} ms; statuses ${JSON.stringify(countBy(cmds, (c) => c.result?.status ?? 'no result'))}; `
      + `results by instance ${JSON.stringify(countBy(cmds, (c) => c.result?.gatewayId))}`);
    checkCompleted(cmds, { holder: (c) => c.station.gateway.gatewayId, since, what: 'commands of (a)' });

    await sleep(OBSERVE_MS);
    checkOneResultEach(cmds, `commands of (a), ${OBSERVE_MS} ms after the last result`);
    for (const s of stations) {
      for (const c of s.connections) {
        assert.deepEqual(c.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${s.identity}: strict-mode validation failures`);
      }
    }
  }));

  test('b: a station that moves to another instance gets its commands there', logOnFailure(async (t) => {
    const [A, B] = gateways;
    const movers = [stations.find((s) => s.gateway === A && s.protocol === 'ocpp1.6'), stations.find((s) => s.gateway === A && s.protocol === 'ocpp2.0.1')];
    for (const s of movers) {
      const old = s.conn;
      await old.client.close({ code: 1000, reason: 'moving' });
      await s.connect(B);
    }
    await waitPresence(gateways, movers.map((s) => ({ station: s, gatewayId: B.gatewayId })));
    const since = sinceNow(movers);
    const cmds = [];
    for (const s of movers) {
      for (let i = 0; i < 6; i++) cmds.push(newCommand(s, i % 2 ? pick(gateways) : 'topic'));
    }
    await Promise.all(cmds.map((c) => run(c)));
    t.diagnostic(`after the move: ${JSON.stringify(countBy(cmds, (c) => `${c.result?.status}@${c.result?.gatewayId}`))}`);
    checkCompleted(cmds, { holder: () => B.gatewayId, since, what: 'commands after the move' });
    await sleep(OBSERVE_MS);
    checkOneResultEach(cmds, 'commands after the move');
  }));

  test('b: a second connection on another instance replaces the first cluster-wide; commands reach the new one', logOnFailure(async (t) => {
    const [A, B] = gateways;
    const dup = stations.find((s) => s.gateway === A && s.connections.length === 1);
    assert.ok(dup, 'a station still on its first connection to A');
    const old = dup.conn;
    const connectedAt = Date.now();
    await dup.connect(B);                       // A's session is still open
    const closeInfo = await Promise.race([old.closed, sleep(PRESENCE_TIMEOUT_MS).then(() => null)]);
    assert.ok(closeInfo, `the old session on ${A.gatewayId} was not closed within ${PRESENCE_TIMEOUT_MS} ms of the new connection on ${B.gatewayId}`);
    t.diagnostic(`old session on ${A.gatewayId} closed ${old.closedAt - connectedAt} ms after the new connection: ${JSON.stringify(closeInfo)}`);
    assert.ok(dup.conn.closeInfo === null, `the new connection on ${B.gatewayId} was closed too: ${JSON.stringify(dup.conn.closeInfo)}`);
    await waitPresence(gateways, [{ station: dup, gatewayId: B.gatewayId }]);

    const since = sinceNow([dup]);
    const cmds = [];
    for (let i = 0; i < 6; i++) cmds.push(newCommand(dup, i % 2 ? pick(gateways) : 'topic'));
    await Promise.all(cmds.map((c) => run(c)));
    checkCompleted(cmds, { holder: () => B.gatewayId, since, what: 'commands after the duplicate connection' });
    assert.equal(dup.seen.slice(since.get(dup)).filter((x) => x.conn === old).length, 0, 'a CALL reached the replaced connection');
    assert.ok(dup.conn.closeInfo === null, `the new connection was closed: ${JSON.stringify(dup.conn.closeInfo)}`);
    await sleep(OBSERVE_MS);
    checkOneResultEach(cmds, 'commands after the duplicate connection');
  }));

  test('b: one commandId written at once for stations on two instances: each record gets exactly one outcome, its own result or a dead-letter record, never none', logOnFailure(async (t) => {
    const [, B, C] = gateways;
    // Stations on their first connection, several per instance: their command partitions
    // differ, and so, for some pairs, do the instances that own them.
    const onlyOn = (gw) => stations.filter((s) => s.gateway === gw && s.connections.length === 1);
    const onB = onlyOn(B);
    const onC = onlyOn(C);
    assert.ok(onB.length > 0 && onC.length > 0, 'stations on each of two instances');
    const pairStations = [...onB, ...onC];
    const reader = await new TopicReader().connect();
    try {
      const from = await reader.snapshot([TOPICS.deadLetter]);
      const since = sinceNow(pairStations);
      const records = [];
      for (let i = 0; i < REUSED_IDS; i++) {
        const commandId = `itcl-${runId}-reused-${i}`;
        for (const station of [onB[i % onB.length], onC[(i * 7 + 3) % onC.length]]) {
          const [action, payload] = commandFor(station.protocol, seq++);
          records.push({ commandId, station, action, payload, text: JSON.stringify({ commandId, stationId: station.identity, action, payload }) });
        }
      }
      // Each id's two records go to two stations' partitions, which their owners read
      // independently: both may be decided before either decision is read back.
      await Promise.all(records.map((r) => client.sendRaw(r.station.identity, r.text)));
      const resultsOf = (r) => client.resultsFor(r.commandId).filter((x) => x.value?.stationId === r.station.identity);
      let dead = [];
      const deadOf = (r) => dead.filter((d) => d.value?.raw === r.text);
      await until(() => records.every((r) => client.resultsFor(r.commandId).length > 0), RESULT_TIMEOUT_MS, 'a result for every id');
      await eventually(async () => {
        dead = await reader.readToEnd([TOPICS.deadLetter], { from });
        return records.every((r) => resultsOf(r).length + deadOf(r).length > 0);
      }, RESULT_TIMEOUT_MS, 'an outcome for every record');
      // Observation window (not synchronisation): a second outcome would have had this long.
      await sleep(OBSERVE_MS);
      dead = await reader.readToEnd([TOPICS.deadLetter], { from });
      const problems = [];
      for (const r of records) {
        const what = `${r.commandId} → ${r.station.identity} (${r.station.gateway.gatewayId})`;
        const results = resultsOf(r);
        const letters = deadOf(r);
        if (results.length + letters.length !== 1) {
          problems.push(`${what}: ${results.length} results, ${letters.length} dead-letter records`);
          continue;
        }
        if (results.length) {
          const v = results[0].value;
          if (v.status !== 'Completed' || v.gatewayId !== r.station.gateway.gatewayId) problems.push(`${what}: ${v.status} by ${v.gatewayId}`);
          const calls = r.station.seen.slice(since.get(r.station)).filter((c) => c.messageId === v.messageId);
          if (calls.length !== 1 || calls[0].method !== r.action || !isDeepStrictEqual(calls[0].params, r.payload)) {
            problems.push(`${what}: the station saw ${JSON.stringify(calls)} for its result`);
          }
        } else if (!/commandId .* taken .* another station or action/.test(letters[0].value?.reason)) {
          problems.push(`${what}: dead-letter reason ${JSON.stringify(letters[0].value?.reason)}`);
        }
      }
      // A station got a CALL only for a record with a result.
      for (const s of pairStations) {
        const got = s.seen.length - since.get(s);
        const want = records.filter((r) => r.station === s && resultsOf(r).length === 1).length;
        if (got !== want) problems.push(`${s.identity}: saw ${got} CALLs, ${want} results name it`);
      }
      const withResult = records.filter((r) => resultsOf(r).length);
      const twice = withResult.length - new Set(withResult.map((r) => r.commandId)).size;
      t.diagnostic(`${REUSED_IDS} ids, each for two stations: ${withResult.length} results, ${records.filter((r) => deadOf(r).length).length} dead-letter records; ids decided for both stations at once: ${twice}`);
      assert.deepEqual(problems, [], 'outcomes of the reused ids');
      // What this test is for: ids decided for both stations before either instance read the
      // other's decision. Each pair's stations sit in partitions owned by two instances in
      // about two cases of three; twenty pairs over several stations all missing that is
      // beyond chance.
      assert.ok(twice > 0, 'no id was decided for both stations at once: the race was not provoked');
    } finally {
      await reader.close();
    }
  }));

  test('c: SIGKILL of one instance: its stations reconnect to the others and get their commands; one that does not gets NotConnected', logOnFailure(async (t) => {
    const victim = gateways[2];
    const survivors = gateways.filter((g) => g !== victim);
    const onVictim = stations.filter((s) => s.gateway === victim);
    assert.ok(onVictim.length >= 2, `stations on ${victim.gatewayId}: ${onVictim.length}`);
    const [orphan, ...movers] = onVictim;

    // Reconnect logic: on close, connect to the next live instance.
    const reconnected = movers.map((s, k) => new Promise((resolve) => {
      s.onLost = async () => {
        s.onLost = null;
        const lostAt = Date.now();
        const errors = [];
        for (let attempt = 0; Date.now() - lostAt < RECONNECT_TIMEOUT_MS; attempt++) {
          const target = survivors[(k + attempt) % survivors.length];
          try {
            await s.connect(target);
            resolve({ station: s, ms: Date.now() - lostAt, attempts: attempt + 1 });
            return;
          } catch (err) {
            errors.push(`${target.gatewayId}: ${err.message}`);
            await sleep(250);
          }
        }
        resolve({ station: s, error: errors.slice(-3).join('; ') });
      };
    }));
    let orphanLostAt = null;
    orphan.onLost = () => { orphanLostAt = Date.now(); };

    // One CALL outstanding on every station of the victim when it dies: the
    // stations do not answer. Whichever instance owns a command's partition
    // (the victim itself, for some of them), each must still get exactly one
    // result: NotConnected (or Superseded once the station reconnected), sent.
    for (const s of onVictim) s.hang = true;
    const inFlight = onVictim.map((s) => newCommand(s, 'topic'));
    const inFlightSince = new Map(onVictim.map((s) => [s, s.seen.length]));
    const inFlightRuns = inFlight.map((c) => {
      c.timeoutMs = 60_000;
      return (async () => {
        c.sentAt = Date.now();
        try {
          await client.send({ commandId: c.commandId, stationId: c.station.identity, action: c.action, payload: c.payload, timeoutMs: c.timeoutMs });
          c.result = await client.waitResult(c.commandId, { timeoutMs: FAILOVER_TIMEOUT_MS });
        } catch (err) {
          c.error = err.message;
        }
        c.doneAt = Date.now();
      })();
    });
    const deadline = Date.now() + RESULT_TIMEOUT_MS;
    while (onVictim.some((s) => s.seen.length === inFlightSince.get(s)) && Date.now() < deadline) await sleep(20);
    assert.deepEqual(onVictim.filter((s) => s.seen.length === inFlightSince.get(s)).map((s) => s.identity), [], 'stations that never got their CALL before the kill');
    assert.deepEqual(inFlight.filter((c) => c.result).map((c) => `${c.commandId}: ${c.result.status}`), [], 'commands that ended before the kill although the station never answers');

    const killAt = Date.now();
    // What the orphan had seen when the kill was sent: counted, not timed (a CALL handled in
    // the same millisecond as the kill came before it).
    const orphanSeenAtKill = orphan.seen.length;
    killed.add(victim);
    victim.child.kill('SIGKILL');
    await victim.exited;
    for (const s of onVictim) s.hang = false;   // new connections answer again

    // A command for the station that stays away, right away.
    const early = newCommand(orphan, 'topic');
    const earlyRun = run(early, INSTANCE_TIMEOUT_MS + FAILOVER_TIMEOUT_MS);

    const recon = await Promise.race([Promise.all(reconnected), sleep(RECONNECT_TIMEOUT_MS + 5_000).then(() => null)]);
    assert.ok(recon, 'the stations of the killed instance did not all reconnect');
    assert.deepEqual(recon.filter((r) => r.error).map((r) => `${r.station.identity}: ${r.error}`), [], 'stations that could not reconnect');
    t.diagnostic(`${movers.length} stations reconnected ${Math.min(...recon.map((r) => r.ms))}..${Math.max(...recon.map((r) => r.ms))} ms after losing ${victim.gatewayId}; the orphan lost its connection ${orphanLostAt === null ? 'never (!)' : `${orphanLostAt - killAt} ms`} after the kill`);
    const reachable = stations.filter((s) => s !== orphan);
    await waitPresence(survivors, reachable.map((s) => ({ station: s, gatewayId: s.gateway.gatewayId })));
    t.diagnostic(`presence on the survivors settled ${Date.now() - killAt} ms after the kill`);

    // Every reachable station (moved or not): three commands each, topic and REST on a survivor.
    const since = sinceNow(reachable);
    const cmds = [];
    for (const s of reachable) for (let i = 0; i < 3; i++) cmds.push(newCommand(s, i === 1 ? pick(survivors) : 'topic'));
    const sentAt = Date.now();
    await Promise.all(cmds.map((c) => run(c, FAILOVER_TIMEOUT_MS)));
    const ms = cmds.map((c) => c.doneAt - c.sentAt).sort((x, y) => x - y);
    t.diagnostic(`after the kill: ${cmds.length} commands sent ${sentAt - killAt} ms after it, done in p50 ${percentile(ms, 50)} max ${ms.at(-1)} ms; `
      + `${JSON.stringify(countBy(cmds, (c) => c.result?.status ?? 'no result'))}`);
    checkCompleted(cmds, { holder: (c) => c.station.gateway.gatewayId, since, what: 'commands after the kill' });
    assert.ok(cmds.filter((c) => movers.includes(c.station)).every((c) => c.result.gatewayId !== victim.gatewayId), 'a result from the killed instance');

    // The orphan: NotConnected once the dead instance is known stale.
    const notConnected = (c, what) => {
      assert.ok(!c.error, `${what}: ${c.error}`);
      assert.equal(c.result?.status, 'NotConnected', `${what}: ${JSON.stringify(c.result)}`);
      assertResult(c.result, { commandId: c.commandId, stationId: orphan.identity, action: c.action, status: 'NotConnected' });
      assert.ok(['GatewayUnavailable', 'StationNotConnected'].includes(c.result.error?.code), `${what}: error ${JSON.stringify(c.result.error)}`);
      // StationNotConnected is decided before any routing: certainly never sent.
      // GatewayUnavailable is either decided at intake (never sent) or written for a
      // command routed to the dead instance, where whether it reached a socket is
      // unknown (sent: true, "may have been"); the orphan's handler proves below that
      // it never got a CALL.
      if (c.result.error?.code === 'StationNotConnected') assert.equal(c.result.sent, false, `${what}: sent`);
      assert.equal(c.result.commandId, c.commandId);
      assert.equal(c.result.stationId, orphan.identity);
      assert.notEqual(c.result.gatewayId, victim.gatewayId, `${what}: result written by the dead instance`);
    };
    const stale = killAt + INSTANCE_TIMEOUT_MS + 1_000;
    if (Date.now() < stale) await sleep(stale - Date.now());
    const late = [newCommand(orphan, 'topic'), newCommand(orphan, pick(survivors))];
    await Promise.all([earlyRun, ...late.map((c) => run(c, FAILOVER_TIMEOUT_MS))]);
    const orphanCmds = [early, ...late];
    for (const c of orphanCmds) {
      t.diagnostic(`orphan, sent ${c.sentAt - killAt} ms after the kill via ${c.via === 'topic' ? 'topic' : `REST ${c.via.gatewayId}`}: `
        + `${c.error ?? `${c.result.status}/${c.result.error?.code} by ${c.result.gatewayId}`} after ${c.doneAt - c.sentAt} ms`);
    }
    notConnected(early, 'command sent right after the kill');
    for (const c of late) notConnected(c, `command sent after the instance timeout (${c.via === 'topic' ? 'topic' : 'REST'})`);
    const describeCalls = (s) => s.seen.map((x, i) => `${x.messageId} ${x.method} ${JSON.stringify(x.params)} via ${x.gatewayId} ${i < orphanSeenAtKill ? 'before' : 'AFTER'} the kill, at kill${x.at >= killAt ? '+' : ''}${x.at - killAt} ms`).join('\n  ');
    const mentions = (s) => gateways.map((gw) => gw.output().split('\n').filter((l) => l.includes(s.identity)).map((l) => `${gw.gatewayId}: ${l}`).join('\n  ')).join('\n  ');
    assert.equal(orphan.seen.length - orphanSeenAtKill, 0,
      `the orphan got a CALL after the kill; gateway log lines about it:\n  ${mentions(orphan)}\nevery CALL it saw:\n  ${describeCalls(orphan)}\ncommands addressed to it: ${allCmds.filter((c) => c.station === orphan).map((c) => `${c.commandId} ${c.action} ${JSON.stringify(c.payload)} → ${c.result ? `${c.result.status} ${c.result.messageId ?? ''}` : c.error ?? 'pending'}`).join('; ')}`);

    await Promise.all(inFlightRuns);
    await sleep(OBSERVE_MS);
    checkOneResultEach([...cmds, early, ...late], 'commands of (c) sent after the kill');
    // The killed instance's command partitions were taken over by the
    // survivors, possibly re-reading records it had read but not committed:
    // still no second result for any command of the whole file.
    checkOneResultEach(allCmds.filter((c) => !inFlight.includes(c)), 'every other command of this file, after the failover');

    // Last, the commands that were outstanding on the victim.
    for (const c of inFlight) {
      t.diagnostic(`outstanding on ${victim.gatewayId} at the kill (${c.station === orphan ? 'orphan' : 'reconnected'}): `
        + `${c.error ?? `${c.result.status}/${c.result.error?.code} sent=${c.result.sent} by ${c.result.gatewayId}`} after ${c.doneAt - killAt} ms`);
    }
    const inFlightProblems = [];
    for (const c of inFlight) {
      const recs = client.resultsFor(c.commandId);
      if (c.error || recs.length !== 1) {
        inFlightProblems.push(`${c.commandId} → ${c.station.identity}: ${recs.length} result records${c.error ? ` (${c.error})` : ''}`);
        continue;
      }
      const r = c.result;
      const schema = checkCommandResult(r);
      if (!schema.ok) inFlightProblems.push(`${c.commandId}: result breaks the schema: ${schema.message}`);
      const ok = (r.status === 'NotConnected' && ['GatewayUnavailable', 'ConnectionClosed'].includes(r.error?.code)) || r.status === 'Superseded';
      if (!ok) inFlightProblems.push(`${c.commandId}: ${r.status} ${JSON.stringify(r.error)}`);
      // `sent` says whether the CALL was written to the station's socket: it was.
      if (r.sent !== true) inFlightProblems.push(`${c.commandId}: sent ${r.sent}, but the station had received the CALL`);
      if (r.gatewayId === victim.gatewayId) inFlightProblems.push(`${c.commandId}: result from the killed instance`);
    }
    assert.deepEqual(inFlightProblems, [], `commands outstanding on ${victim.gatewayId} when it was killed (each needs exactly one result)`);
  }));
  test('d: an instance killed and started again under the same gatewayId: the command its first run held ends NotConnected once, written by another instance', logOnFailure(async (t) => {
    const first = gateways.find((g) => !killed.has(g) && stations.some((s) => s.gateway === g));
    assert.ok(first, 'no live instance holds a station');
    const held = stations.find((s) => s.gateway === first);
    held.onLost = null;  // it stays away: the command cannot finish anywhere
    held.hang = true;
    const { cmd, since, runCmd } = await commandHeldBy(held);
    assert.equal(cmd.result, null, 'the command ended before the kill although the station never answers');

    // Killed, and at once a new process under the same id (a container restarted in place):
    // to the others the id never stops being alive.
    killed.add(first);
    first.child.kill('SIGKILL');
    await first.exited;
    const restartedAt = Date.now();
    const second = await startGateway({ gatewayId: first.gatewayId, extraArgs: gatewayArgs });
    gateways.push(second);
    held.hang = false;
    const restartMs = Date.now() - restartedAt;
    t.diagnostic(`${first.gatewayId} started again ${restartMs} ms after the kill`);
    // Only a run that is back before the first run's liveness has been gone for a whole
    // instance timeout looks alive throughout; a slower start would test a plain crash.
    assert.ok(restartMs < INSTANCE_TIMEOUT_MS + 3_000, `the second run took ${restartMs} ms to start: too slow for a restart in place`);

    await runCmd;
    t.diagnostic(`${cmd.commandId}: ${cmd.error ?? `${cmd.result.status}/${cmd.result.error?.code} sent=${cmd.result.sent} by ${cmd.result.gatewayId}`} ${cmd.doneAt - restartedAt} ms after the restart`);
    assert.ok(!cmd.error, `no result for the command the first run held: ${cmd.error}`);
    assertResult(cmd.result, { commandId: cmd.commandId, stationId: held.identity, action: cmd.action, status: 'NotConnected' });
    assert.equal(cmd.result.error?.code, 'GatewayUnavailable', JSON.stringify(cmd.result.error));
    assert.equal(cmd.result.sent, true, 'the station had received the CALL');
    assert.notEqual(cmd.result.gatewayId, first.gatewayId, 'written by the id whose first run held it');
    assert.ok(cmd.doneAt - restartedAt < INSTANCE_TIMEOUT_MS + RESULT_TIMEOUT_MS, `ended ${cmd.doneAt - restartedAt} ms after the restart`);
    assert.equal(held.seen.length - since, 1, 'the station got the CALL again');
    await sleep(OBSERVE_MS);
    checkOneResultEach([cmd], 'the command held by the first run');
  }));

  test('e: an instance frozen while its station holds a CALL: the others end the command, and the thawed instance writes no second result', logOnFailure(async (t) => {
    const frozen = gateways.find((g) => !killed.has(g) && stations.some((s) => s.gateway === g));
    assert.ok(frozen, 'no live instance holds a station');
    const held = stations.find((s) => s.gateway === frozen);
    let release;
    held.hold = new Promise((resolve) => { release = resolve; });
    const { cmd, runCmd } = await commandHeldBy(held);

    frozen.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    try {
      await runCmd;
      t.diagnostic(`${cmd.commandId}: ${cmd.error ?? `${cmd.result.status}/${cmd.result.error?.code} by ${cmd.result.gatewayId}`} ${cmd.doneAt - frozenAt} ms after the freeze`);
      assert.ok(!cmd.error, `no result while ${frozen.gatewayId} was frozen: ${cmd.error}`);
      assertResult(cmd.result, { commandId: cmd.commandId, stationId: held.identity, action: cmd.action, status: 'NotConnected' });
      assert.equal(cmd.result.error?.code, 'GatewayUnavailable', JSON.stringify(cmd.result.error));
      assert.notEqual(cmd.result.gatewayId, frozen.gatewayId);
      // The station answers now: its CALLRESULT waits for the frozen instance (before or
      // after the thaw, the instance was cut off since the command came in).
      release();
    } finally {
      frozen.child.kill('SIGCONT');
    }
    const thawedAt = Date.now();
    const withheld = async () => {
      const r = await fetch(`http://127.0.0.1:${frozen.adminPort}/metrics`).then((x) => x.text()).catch(() => '');
      return /^ocpp_command_results_withheld_total (\d+)$/m.exec(r)?.[1];
    };
    for (;;) {
      if (Number(await withheld()) >= 1) break;
      assert.ok(Date.now() - thawedAt < RESULT_TIMEOUT_MS, `${frozen.gatewayId} withheld no result within ${RESULT_TIMEOUT_MS} ms of the thaw; `
        + `result records: ${JSON.stringify(client.resultsFor(cmd.commandId).map((r) => `${r.value?.status}@${r.value?.gatewayId}`))}`);
      await sleep(100);
    }
    t.diagnostic(`${frozen.gatewayId} withheld its result ${Date.now() - thawedAt} ms after the thaw`);
    await frozen.waitForOutput(new RegExp(`command ${cmd.commandId} for ${held.identity}: ended by another instance while this one was cut off`));
    held.hold = null;
    checkOneResultEach([cmd], 'the command held by the frozen instance');
  }));
});
