// A complete OCPP 2.0.1 charging session through the gateway, read back from
// Kafka: every record is checked against what the station sent and received.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { Station } from '../lib/station.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { assertSessionEvents, connectionRecords, assertConnectionRecord } from '../lib/expect.mjs';

const FIX = join(FIXTURES_DIR, 'ocpp2.0.1');
const request = (action) => JSON.parse(readFileSync(join(FIX, 'requests', `${action}.json`), 'utf8'));
const framePayload = (file) => JSON.parse(readFileSync(join(FIX, 'valid-frames', file), 'utf8'))[3];

const EVENT_TOPICS = [TOPICS.status, TOPICS.authorizations, TOPICS.transactions, TOPICS.meterValues, TOPICS.heartbeats];
const VERSION = '2.0.1';

describe('OCPP 2.0.1 charging session', () => {
  let gw;
  let reader;
  let from;
  let station;
  let window;
  let sessionId;
  const stationId = uniqueStationId('IT201');
  const transactionId = randomUUID();
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    reader = await new TopicReader().connect();
    from = await reader.snapshot([...EVENT_TOPICS, TOPICS.connections, TOPICS.deadLetter]);
    gw = await startGateway();
  });

  after(async () => {
    await station?.client.close({ force: true }).catch(() => {});
    try {
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
    }
  });

  test('boot, authorize, transaction started/updated/ended, meter values, heartbeat: all answered', logOnFailure(async () => {
    window = { from: Date.now(), to: null };
    station = new Station({ endpoint: gw.endpoint, identity: stationId, protocol: 'ocpp2.0.1' });
    await station.connect();

    const boot = await station.call('BootNotification', request('BootNotification'));
    assert.ok(['Accepted', 'Pending', 'Rejected'].includes(boot.reply.status));

    const auth = await station.call('Authorize', request('Authorize'));
    assert.equal(typeof auth.reply.idTokenInfo?.status, 'string');

    const now = () => new Date().toISOString();
    const started = request('TransactionEvent');
    started.seqNo = 0;
    started.timestamp = now();
    started.transactionInfo.transactionId = transactionId;
    started.meterValue[0].timestamp = started.timestamp;
    await station.call('TransactionEvent', started);

    const updated = framePayload('017-transaction-updated.frame');
    updated.seqNo = 1;
    updated.timestamp = now();
    updated.transactionInfo.transactionId = transactionId;
    updated.meterValue[0].timestamp = updated.timestamp;
    await station.call('TransactionEvent', updated);

    const ended = framePayload('018-transaction-ended.frame');
    ended.seqNo = 2;
    ended.timestamp = now();
    ended.transactionInfo.transactionId = transactionId;
    ended.meterValue[0].timestamp = ended.timestamp;
    await station.call('TransactionEvent', ended);

    const mv = request('MeterValues');
    mv.meterValue[0].timestamp = now();
    await station.call('MeterValues', mv);

    const hb = await station.call('Heartbeat', {});
    assert.ok(!Number.isNaN(Date.parse(hb.reply.currentTime)), 'Heartbeat currentTime');

    assert.deepEqual(station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], 'strict-mode validation failures');
    assert.deepEqual(station.unexpected, [], 'messages from the gateway that answer no call');
    assert.deepEqual(station.log.map((e) => e.action),
      ['BootNotification', 'Authorize', 'TransactionEvent', 'TransactionEvent', 'TransactionEvent', 'MeterValues', 'Heartbeat']);
    window.to = Date.now();
  }));

  test('every call is on its topic with the exact payload and reply, in order', logOnFailure(async () => {
    assert.ok(window?.to, 'the session did not complete');
    // Replies are only sent after Kafka acknowledged the record, so every
    // answered call must be readable right away: no waiting here.
    const events = await reader.readToEnd(EVENT_TOPICS, { from, key: stationId });
    // The Connected event has no such ordering guarantee: wait for it.
    const { records: connRecs } = await reader.waitFor([TOPICS.connections],
      (recs) => recs.some((r) => r.value?.type === 'Connected'),
      { from, key: stationId, timeoutMs: 15_000, what: `Connected of ${stationId}` });
    const records = [...events, ...connRecs];

    const ctx = { stationId, version: VERSION, gatewayId: gw.gatewayId, window };
    ({ sessionId } = assertSessionEvents(records, station.log, ctx));

    const tx = records.filter((r) => r.topic === TOPICS.transactions);
    assert.deepEqual(tx.map((r) => r.value.payload.eventType), ['Started', 'Updated', 'Ended']);
    assert.deepEqual(tx.map((r) => r.value.payload.seqNo), [0, 1, 2]);
    for (const r of tx) assert.equal(r.value.payload.transactionInfo.transactionId, transactionId, 'transactionId');
    assert.equal(new Set(tx.map((r) => r.value.dedupKey)).size, 3, 'TransactionEvents with different seqNo must have different dedupKeys');

    const conn = connectionRecords(records, sessionId);
    assert.equal(conn.connected.length, 1, 'exactly one Connected event for the session');
    assertConnectionRecord(conn.connected[0], {
      type: 'Connected', stationId, gatewayId: gw.gatewayId, version: VERSION, subprotocol: 'ocpp2.0.1', sessionId, window,
    });
    assert.equal(conn.disconnected.length, 0, 'no Disconnected event while the station is still connected');

    const dead = await reader.readToEnd([TOPICS.deadLetter], { from, key: stationId });
    assert.deepEqual(dead.map((r) => r.text), [], 'a well-behaved station must cause no dead-letter records');
  }));

  test('closing the connection publishes Disconnected', logOnFailure(async () => {
    assert.ok(sessionId, 'no session id from the previous step');
    const info = await station.close(1000, 'bye');
    assert.equal(info.code, 1000);
    const { result: rec } = await reader.waitFor([TOPICS.connections], (recs) =>
      recs.find((r) => r.value?.sessionId === sessionId && r.value?.type === 'Disconnected'),
    { from, key: stationId, timeoutMs: 20_000, what: `Disconnected of ${stationId}` });
    assertConnectionRecord(rec, {
      type: 'Disconnected', stationId, gatewayId: gw.gatewayId, version: VERSION, subprotocol: 'ocpp2.0.1', sessionId,
      window: { from: window.from, to: Date.now() },
    });
    assert.equal(rec.value.closeCode, 1000, 'closeCode of a normal closure by the station');
    if (rec.value.messages !== undefined) assert.equal(rec.value.messages, station.log.length, 'messages published in the session');
  }));
});
