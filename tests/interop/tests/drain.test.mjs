// SIGTERM drains: calls the gateway holds are answered and stored, then every
// station is closed with 1001 and the process exits 0.
//
// So that calls are reliably in flight when the signal arrives, these
// gateways run with librdkafka linger.ms=1000: every record waits about a
// second in the producer before it is sent, so a CALL stays unanswered for
// that long. The signal is sent once /metrics counts every CALL of the burst
// in ocpp_calls_in_flight, i.e. once the gateway has read all of them (a CALL
// still in the socket buffer is not the gateway's to answer).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { Station } from '../lib/station.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { meterValuesPayload } from '../lib/retrying-station.mjs';
import { RawStation, parseCallError, parseCallResult } from '../lib/raw-station.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { assertSessionEvents, assertStationEventRecord, connectionRecords, assertConnectionRecord, versionOf } from '../lib/expect.mjs';

const LINGER_MS = 1_000;
const GATEWAY_ARGS = ['--kafka-property', `linger.ms=${LINGER_MS}`];
const DRAIN_TIMEOUT_MS = 25_000;           // the gateway's default drain_timeout_s
const EXIT_BOUND_MS = 40_000;              // the test never waits longer for the exit
const LATE_CALL_DELAY_MS = 300;            // after /readyz 503, well inside the linger
const EVENT_TOPICS = [TOPICS.status, TOPICS.transactions, TOPICS.meterValues, TOPICS.heartbeats];
const ALL_TOPICS = [...EVENT_TOPICS, TOPICS.connections, TOPICS.deadLetter];

const request = (protocol, action) => JSON.parse(readFileSync(join(FIXTURES_DIR, protocol, 'requests', `${action}.json`), 'utf8'));

/** One CALL per station for the burst: a mix of actions and of topics. */
function burstCall(protocol, i) {
  const now = new Date().toISOString();
  if (protocol === 'ocpp1.6') {
    switch (i % 3) {
      // StartTransaction takes two records (transaction id, then the event).
      case 0: return ['StartTransaction', { ...request(protocol, 'StartTransaction'), timestamp: now }];
      case 1: return ['MeterValues', meterValuesPayload(protocol, 7_000 + i, now)];
      default: return ['StatusNotification', { ...request(protocol, 'StatusNotification'), timestamp: now }];
    }
  }
  switch (i % 3) {
    case 0: {
      const ev = structuredClone(request(protocol, 'TransactionEvent'));
      ev.timestamp = now;
      ev.transactionInfo.transactionId = randomUUID();
      ev.meterValue[0].timestamp = now;
      return ['TransactionEvent', ev];
    }
    case 1: return ['MeterValues', meterValuesPayload(protocol, 7_000 + i, now)];
    default: return ['Heartbeat', {}];
  }
}

async function metrics(gw) {
  return (await httpGet(gw.adminUrl('/metrics'), 2_000)).text;
}

/** Polls /metrics until ocpp_calls_in_flight equals `n`; bounded. */
async function waitInFlight(gw, n, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  while (Date.now() < deadline) {
    last = metricValue(await metrics(gw), 'ocpp_calls_in_flight');
    if (last === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`ocpp_calls_in_flight did not reach ${n} within ${timeoutMs} ms (last ${last})`);
}

/**
 * Polls /readyz as fast as it answers (10 ms apart) until the admin listener
 * stops answering or `stop()` is called; keeps every answer with its time.
 */
function watchReadiness(gw) {
  const samples = [];
  let stopped = false;
  let wake = null;
  const done = (async () => {
    while (!stopped) {
      let ready;
      try {
        ready = (await httpGet(gw.adminUrl('/readyz'), 1_000)).status;
      } catch (err) {
        ready = err.code || 'no answer';
      }
      samples.push({ t: Date.now(), ready });
      wake?.();
      if (typeof ready !== 'number') break;      // the listener is gone
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const first = (pred, timeoutMs) => new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      const hit = samples.find(pred);
      if (hit || Date.now() >= deadline || (samples.length && typeof samples.at(-1).ready !== 'number')) {
        clearInterval(timer);
        wake = null;
        resolve(hit ?? null);
      }
    };
    const timer = setInterval(check, 50);
    wake = check;
    check();
  });
  return { samples, first, stop: async () => { stopped = true; await done; } };
}

/** Run-length summary, e.g. [[503, 40], ['ECONNREFUSED', 1]]. */
function runs(values) {
  const out = [];
  for (const v of values) {
    if (out.length && out.at(-1)[0] === v) out.at(-1)[1]++;
    else out.push([v, 1]);
  }
  return out;
}

/** Resolves `promise`, or rejects with `what` after `ms`. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms); }),
  ]);
}

/** A connection attempt that must fail: resolves with the error, or throws if it connected. */
async function refusedConnection(gw, protocol) {
  const probe = new Station({ endpoint: gw.endpoint, identity: uniqueStationId('ITDRNEW'), protocol });
  try {
    await within(probe.connect(), 10_000, 'connection attempt');
  } catch (err) {
    await probe.client.close({ force: true }).catch(() => {});
    err.identity = probe.identity;
    return err;
  }
  await probe.client.close({ force: true }).catch(() => {});
  throw new Error('a new station connected after SIGTERM');
}

describe('SIGTERM with calls in flight', () => {
  let gw;
  let reader;
  let from;
  const stations = [];
  const burst = [];          // {station, action, promise, settled}
  let sigtermAt;
  let window;
  let exitInfo;
  let probeId;               // the station id of the refused connection attempt
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    reader = await new TopicReader().connect();
    from = await reader.snapshot(ALL_TOPICS);
    gw = await startGateway({ extraArgs: GATEWAY_ARGS });
  });

  after(async () => {
    for (const s of stations) await s.client.close({ force: true }).catch(() => {});
    try {
      if (gw) await gw.stop(EXIT_BOUND_MS);
    } finally {
      await reader?.close();
    }
  });

  test('every CALL in flight at SIGTERM is answered, then each station is closed with 1001 and the gateway exits 0', logOnFailure(async (t) => {
    window = { from: Date.now(), to: null };
    for (let i = 0; i < 6; i++) {
      const protocol = i < 3 ? 'ocpp1.6' : 'ocpp2.0.1';
      const s = new Station({ endpoint: gw.endpoint, identity: uniqueStationId(protocol === 'ocpp1.6' ? 'ITDR16' : 'ITDR201'), protocol, callTimeoutMs: 30_000 });
      await s.connect();
      stations.push(s);
    }
    await Promise.all(stations.map((s) => s.call('BootNotification', request(s.protocol, 'BootNotification'))));
    assert.equal((await httpGet(gw.adminUrl('/readyz'))).status, 200, '/readyz before SIGTERM');

    // The burst: one CALL per station (a station has one CALL in flight at a time), not awaited.
    stations.forEach((s, i) => {
      const [action, payload] = burstCall(s.protocol, i % 3);
      const item = { station: s, action, settled: null };
      item.promise = s.call(action, payload).then(
        (entry) => { item.settled = { ok: true, at: Date.now(), entry }; },
        (err) => { item.settled = { ok: false, at: Date.now(), error: `${err.rpcErrorCode ?? err.name}: ${err.message}` }; });
      burst.push(item);
    });
    await waitInFlight(gw, burst.length);

    const readiness = watchReadiness(gw);
    const answeredBefore = burst.filter((b) => b.settled).length;
    sigtermAt = Date.now();
    gw.terminate();
    assert.ok(answeredBefore < burst.length, 'every burst CALL was answered before SIGTERM: nothing was in flight');
    const closedAt = new Map();
    for (const s of stations) s.closed.then(() => closedAt.set(s, Date.now()));

    // Draining: /readyz says 503 once the port is closed; no new station gets in, and the
    // stations already in are still answered.
    const first503 = await readiness.first((x) => x.ready === 503, 5_000);
    const unansweredAt503 = burst.filter((b) => !b.settled).length;
    assert.ok(first503, `/readyz never said 503 after SIGTERM: ${JSON.stringify(runs(readiness.samples.map((x) => x.ready)))}`);
    const refused = await refusedConnection(gw, 'ocpp1.6');
    const refusedAt = Date.now();
    const unansweredAtRefusal = burst.filter((b) => !b.settled).length;
    // ECONNREFUSED once the listening socket is closed; ECONNRESET when the
    // attempt was still queued in the listen backlog as it closed. Either way
    // no WebSocket session (checked on Kafka below: no Connected record).
    assert.match(`${refused.code ?? ''} ${refused.message}`, /ECONNREFUSED|ECONNRESET/, `a new connection after SIGTERM must fail at the TCP level; got ${refused.message}`);
    probeId = refused.identity;

    // Every CALL the gateway held is answered with a CALLRESULT.
    await within(Promise.all(burst.map((b) => b.promise)), DRAIN_TIMEOUT_MS, 'answers to the burst');
    const failedBurst = burst.filter((b) => !b.settled.ok).map((b) => `${b.station.identity} ${b.action}: ${b.settled.error}`);
    assert.deepEqual(failedBurst, [], 'CALLs in flight at SIGTERM that got no CALLRESULT');

    // Then every connection is closed by the gateway with 1001.
    const closes = await within(Promise.all(stations.map((s) => s.closed)), DRAIN_TIMEOUT_MS, 'closing of the stations');
    assert.deepEqual(closes.map((c) => c.code), stations.map(() => 1001), `close codes: ${JSON.stringify(closes)}`);
    for (const b of burst) {
      assert.ok(b.settled.at <= closedAt.get(b.station), `${b.station.identity}: closed before its ${b.action} was answered`);
    }

    exitInfo = await within(gw.exited, EXIT_BOUND_MS - (Date.now() - sigtermAt), 'gateway exit after SIGTERM');
    const exitMs = Date.now() - sigtermAt;
    await readiness.stop();
    window.to = Date.now();
    assert.deepEqual(exitInfo, { code: 0, signal: null }, 'exit status after SIGTERM');
    assert.ok(exitMs <= DRAIN_TIMEOUT_MS, `exit ${exitMs} ms after SIGTERM: beyond the drain timeout`);

    const answerMs = burst.map((b) => b.settled.at - sigtermAt);
    const closeMs = stations.map((s) => closedAt.get(s) - sigtermAt);
    t.diagnostic(`${burst.length - answeredBefore} of ${burst.length} burst CALLs unanswered at SIGTERM`);
    t.diagnostic(`SIGTERM → first /readyz 503 ${first503.t - sigtermAt} ms (${unansweredAt503} of ${burst.length} CALLs still unanswered); `
      + `refused connection at ${refusedAt - sigtermAt} ms (${unansweredAtRefusal} unanswered) with ${refused.code ?? refused.message}`);
    t.diagnostic(`SIGTERM → CALLRESULTs ${Math.min(...answerMs)}..${Math.max(...answerMs)} ms; → closes (1001) ${Math.min(...closeMs)}..${Math.max(...closeMs)} ms; → exit ${exitMs} ms`);
    t.diagnostic(`/readyz after SIGTERM: ${JSON.stringify(runs(readiness.samples.map((x) => x.ready)))}`);
    for (const s of stations) {
      assert.deepEqual(s.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${s.identity}: strict-mode validation failures`);
      assert.deepEqual(s.unexpected, [], `${s.identity}: messages that answer no call`);
    }
  }));

  test('every call is stored with its reply, and each station has Disconnected with closeCode 1001', logOnFailure(async () => {
    assert.ok(exitInfo, 'the drain did not complete');
    const ids = stations.map((s) => s.identity);
    // The gateway has exited: whatever it acknowledged or flushed is in Kafka now.
    const records = await reader.readToEnd(ALL_TOPICS, { from, key: ids, timeoutMs: 30_000 });
    for (const s of stations) {
      const mine = records.filter((r) => r.key === s.identity);
      const version = versionOf(s.protocol);
      const { sessionId } = assertSessionEvents(mine, s.log, { stationId: s.identity, version, gatewayId: gw.gatewayId, window });
      assert.equal(s.log.length, 2, `${s.identity}: BootNotification and one burst CALL`);
      const conn = connectionRecords(mine, sessionId);
      assert.equal(conn.connected.length, 1, `${s.identity}: Connected records`);
      assert.equal(conn.disconnected.length, 1, `${s.identity}: Disconnected records`);
      assertConnectionRecord(conn.disconnected[0], {
        type: 'Disconnected', stationId: s.identity, gatewayId: gw.gatewayId, version, subprotocol: s.protocol, sessionId, window,
      });
      assert.equal(conn.disconnected[0].value.closeCode, 1001, `${s.identity}: Disconnected closeCode (reason ${JSON.stringify(conn.disconnected[0].value.reason)})`);
      if (conn.disconnected[0].value.messages !== undefined) assert.equal(conn.disconnected[0].value.messages, s.log.length, `${s.identity}: Disconnected messages`);
      const dead = mine.filter((r) => r.topic === TOPICS.deadLetter);
      assert.deepEqual(dead.map((r) => r.text), [], `${s.identity}: dead-letter records`);
    }
    const probe = await reader.readToEnd([TOPICS.connections], { from, key: probeId, timeoutMs: 30_000 });
    assert.deepEqual(probe.map((r) => r.value?.type), [], 'the connection attempt after SIGTERM must leave no connection record');
  }));
});

// Frames that arrive while a session drains. One station has a CALL held in
// flight when SIGTERM comes and, during the drain, sends a second CALL on the
// same connection; another station is idle. The second CALL has been read,
// so it must be answered (CALLERROR: one CALL at a time, the first is still
// pending) and dead-lettered; the held CALL gets its CALLRESULT; both
// connections are closed with 1001 and their closing handshakes complete
// (Disconnected closeCode 1001, not a handshake timeout).
describe('frames that arrive during the drain', () => {
  let gw;
  let reader;
  let from;
  let raw;                   // RawStation, 2.0.1: holds a CALL, sends another during the drain
  let idle;                  // Station, 1.6: nothing in flight at SIGTERM
  let rawId;
  let window;
  let result;                // what the test observed, for the Kafka checks
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    reader = await new TopicReader().connect();
    from = await reader.snapshot(ALL_TOPICS);
    gw = await startGateway({ extraArgs: GATEWAY_ARGS });
  });

  after(async () => {
    await raw?.close().catch(() => {});
    await idle?.client.close({ force: true }).catch(() => {});
    try {
      if (gw) await gw.stop(EXIT_BOUND_MS);
    } finally {
      await reader?.close();
    }
  });

  test('a CALL read during the drain is answered; held CALL answered; both stations closed with 1001; exit 0', logOnFailure(async (t) => {
    window = { from: Date.now(), to: null };
    rawId = uniqueStationId('ITDRR201');
    raw = await RawStation.connect(gw.wsUrl(rawId), ['ocpp2.0.1']);
    idle = new Station({ endpoint: gw.endpoint, identity: uniqueStationId('ITDRI16'), protocol: 'ocpp1.6', callTimeoutMs: 30_000 });
    await idle.connect();
    await idle.call('Heartbeat', {});
    const idleClosedAt = idle.closed.then(() => Date.now());

    const heldPayload = meterValuesPayload('ocpp2.0.1', 9_001);
    const heldId = await raw.sendCall('MeterValues', heldPayload);
    await waitInFlight(gw, 1);
    const readiness = watchReadiness(gw);
    const sigtermAt = Date.now();
    gw.terminate();
    const first503 = await readiness.first((x) => x.ready === 503, 5_000);
    assert.ok(first503, `/readyz never said 503 after SIGTERM: ${JSON.stringify(runs(readiness.samples.map((x) => x.ready)))}`);
    // Scenario timing, not synchronisation: the second CALL goes out well
    // after the drain began and well before the held record leaves the
    // producer (linger).
    await new Promise((r) => setTimeout(r, LATE_CALL_DELAY_MS));
    assert.deepEqual(raw.inbox.map((m) => m.text), [], 'the held CALL was answered before the second CALL went out: the drain was not in progress');
    assert.ok(raw.isOpen, `the station holding a CALL was closed before its answer: ${JSON.stringify(raw.closeInfo)}`);
    const lateSentAt = Date.now();
    const lateId = await raw.sendCall('Heartbeat', {});

    // Two answers, in any order, then the close.
    const answers = [];
    for (let i = 0; i < 2; i++) answers.push(await raw.next(DRAIN_TIMEOUT_MS, `answer ${i + 1} of 2 during the drain`));
    const byId = new Map(answers.map((m) => [m.json?.[1], m]));
    assert.ok(byId.has(heldId), `no answer to the held CALL: ${answers.map((m) => m.text).join(' | ')}`);
    assert.ok(byId.has(lateId), `no answer to the CALL sent during the drain: ${answers.map((m) => m.text).join(' | ')}`);
    const held = parseCallResult(byId.get(heldId));
    const lateErr = parseCallError(byId.get(lateId));
    assert.equal(lateErr.code, 'RpcFrameworkError', `the second CALL while one is pending: ${JSON.stringify(lateErr)}`);

    const rawClose = await raw.waitClose(DRAIN_TIMEOUT_MS);
    const idleClose = await within(idle.closed, DRAIN_TIMEOUT_MS, 'closing of the idle station');
    assert.equal(rawClose.code, 1001, `close seen by the station that held a CALL: ${JSON.stringify(rawClose)}`);
    assert.equal(idleClose.code, 1001, `close seen by the idle station: ${JSON.stringify(idleClose)}`);
    assert.deepEqual(raw.inbox.map((m) => m.text), [], 'nothing after the two answers');
    const info = await within(gw.exited, EXIT_BOUND_MS - (Date.now() - sigtermAt), 'gateway exit after SIGTERM');
    const exitMs = Date.now() - sigtermAt;
    await readiness.stop();
    window.to = Date.now();
    assert.deepEqual(info, { code: 0, signal: null }, 'exit status after SIGTERM');
    assert.ok(exitMs <= DRAIN_TIMEOUT_MS, `exit ${exitMs} ms after SIGTERM: beyond the drain timeout`);
    t.diagnostic(`second CALL sent ${lateSentAt - sigtermAt} ms after SIGTERM; idle station closed ${(await idleClosedAt) - sigtermAt} ms after SIGTERM; `
      + `exit ${exitMs} ms after SIGTERM`);
    result = { heldId, heldPayload, heldReply: held.payload, lateId, lateErr, sentAt: lateSentAt };
  }));

  test('the held CALL is stored with its reply, the second one dead-lettered, both Disconnected with closeCode 1001', logOnFailure(async (t) => {
    assert.ok(result, 'the drain did not complete');
    // The gateway has exited: what it flushed is in Kafka now, nothing more will come.
    const records = await reader.readToEnd(ALL_TOPICS, { from, key: [rawId, idle.identity], timeoutMs: 30_000 });
    const rawRecs = records.filter((r) => r.key === rawId);
    const events = rawRecs.filter((r) => r.topic === TOPICS.meterValues || r.topic === TOPICS.heartbeats);
    assert.equal(events.length, 1, `station events of the raw station: ${events.map((r) => `${r.topic} ${r.value?.messageId}`).join(', ')}`);
    assertStationEventRecord(events[0], {
      call: { action: 'MeterValues', messageId: result.heldId, payload: result.heldPayload, reply: result.heldReply },
      stationId: rawId, version: '2.0.1', gatewayId: gw.gatewayId, window,
    });
    const dead = rawRecs.filter((r) => r.topic === TOPICS.deadLetter);
    assert.equal(dead.length, 1, 'one dead-letter record for the second CALL');
    assertSchema('deadLetter', dead[0].value, 'dead-letter of the second CALL');
    assert.equal(dead[0].value.messageId, result.lateId);
    assert.equal(dead[0].value.errorCode, 'RpcFrameworkError');

    const idleRecs = records.filter((r) => r.key === idle.identity);
    const { sessionId: idleSession } = assertSessionEvents(idleRecs, idle.log, { stationId: idle.identity, version: '1.6', gatewayId: gw.gatewayId, window });
    const codes = {};
    for (const [id, recs, sessionId, version, subprotocol] of [
      [rawId, rawRecs, events[0].value.sessionId, '2.0.1', 'ocpp2.0.1'],
      [idle.identity, idleRecs, idleSession, '1.6', 'ocpp1.6'],
    ]) {
      const conn = connectionRecords(recs, sessionId);
      assert.equal(conn.disconnected.length, 1, `${id}: Disconnected records`);
      const d = conn.disconnected[0];
      assertConnectionRecord(d, { type: 'Disconnected', stationId: id, gatewayId: gw.gatewayId, version, subprotocol, sessionId, window });
      codes[id] = `${d.value.closeCode} ${d.value.reason}`;
    }
    t.diagnostic(`Disconnected: ${JSON.stringify(codes)}`);
    assert.deepEqual(Object.values(codes).map((c) => Number(c.split(' ')[0])), [1001, 1001], `Disconnected closeCode (1006 would mean the station's close reply was never read): ${JSON.stringify(codes)}`);
  }));
});
