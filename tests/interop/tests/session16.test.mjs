// A complete OCPP 1.6 charging session through the gateway, read back from
// Kafka: every record is checked against what the station sent and received.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { Station } from '../lib/station.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { assertSessionEvents, connectionRecords, assertConnectionRecord } from '../lib/expect.mjs';

const request = (action) => JSON.parse(readFileSync(join(FIXTURES_DIR, 'ocpp1.6', 'requests', `${action}.json`), 'utf8'));

const EVENT_TOPICS = [TOPICS.status, TOPICS.authorizations, TOPICS.transactions, TOPICS.meterValues, TOPICS.heartbeats];
const VERSION = '1.6';

describe('OCPP 1.6 charging session', () => {
  let gw;
  let reader;
  let from;
  let station;
  let window;
  let sessionId;
  let transactionId;
  const stationId = uniqueStationId('IT16');
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

  test('boot, authorize, start, meter values, stop, heartbeat: all answered', logOnFailure(async () => {
    window = { from: Date.now(), to: null };
    station = new Station({ endpoint: gw.endpoint, identity: stationId, protocol: 'ocpp1.6' });
    await station.connect();

    const boot = await station.call('BootNotification', request('BootNotification'));
    assert.ok(['Accepted', 'Pending', 'Rejected'].includes(boot.reply.status));

    const idTag = request('Authorize').idTag;
    const auth = await station.call('Authorize', { idTag });
    assert.equal(typeof auth.reply.idTagInfo?.status, 'string');

    const startPayload = { ...request('StartTransaction'), idTag, timestamp: new Date().toISOString() };
    const start = await station.call('StartTransaction', startPayload);
    transactionId = start.reply.transactionId;
    assert.ok(Number.isInteger(transactionId), `StartTransaction reply transactionId must be an integer, got ${JSON.stringify(transactionId)}`);

    const mvTemplate = request('MeterValues');
    let energy = startPayload.meterStart;
    for (let i = 0; i < 3; i++) {
      energy += 1000 + i * 37;
      const payload = structuredClone(mvTemplate);
      payload.transactionId = transactionId;
      payload.meterValue[0].timestamp = new Date().toISOString();
      payload.meterValue[0].sampledValue[0].value = String(energy);
      payload.meterValue[0].sampledValue[1].value = String(7000 + i);
      await station.call('MeterValues', payload);
    }

    const stopPayload = {
      ...request('StopTransaction'),
      transactionId,
      idTag,
      meterStop: energy + 500,
      timestamp: new Date().toISOString(),
      reason: 'EVDisconnected',
    };
    stopPayload.transactionData = stopPayload.transactionData.map((md) => structuredClone(md));
    stopPayload.transactionData[0].sampledValue[0].value = String(startPayload.meterStart);
    stopPayload.transactionData[1].sampledValue[0].value = String(energy + 500);
    await station.call('StopTransaction', stopPayload);

    const hb = await station.call('Heartbeat', {});
    assert.ok(!Number.isNaN(Date.parse(hb.reply.currentTime)), 'Heartbeat currentTime');

    assert.deepEqual(station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], 'strict-mode validation failures');
    assert.deepEqual(station.unexpected, [], 'messages from the gateway that answer no call');
    assert.deepEqual(station.log.map((e) => e.action),
      ['BootNotification', 'Authorize', 'StartTransaction', 'MeterValues', 'MeterValues', 'MeterValues', 'StopTransaction', 'Heartbeat']);
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

    // Billing joins the transaction from the topics alone.
    const txRecords = records.filter((r) => r.topic === TOPICS.transactions);
    const startRec = txRecords.find((r) => r.value.action === 'StartTransaction');
    const stopRec = txRecords.find((r) => r.value.action === 'StopTransaction');
    const mvRecs = records.filter((r) => r.topic === TOPICS.meterValues);
    assert.equal(mvRecs.length, 3);
    assert.equal(startRec.value.reply.transactionId, transactionId);
    for (const r of mvRecs) assert.equal(r.value.payload.transactionId, startRec.value.reply.transactionId, 'MeterValues transactionId');
    assert.equal(stopRec.value.payload.transactionId, startRec.value.reply.transactionId, 'StopTransaction transactionId');
    assert.equal(stopRec.value.payload.reason, 'EVDisconnected');
    assert.equal(typeof stopRec.value.payload.meterStop, 'number');

    const conn = connectionRecords(records, sessionId);
    assert.equal(conn.connected.length, 1, 'exactly one Connected event for the session');
    assertConnectionRecord(conn.connected[0], {
      type: 'Connected', stationId, gatewayId: gw.gatewayId, version: VERSION, subprotocol: 'ocpp1.6', sessionId, window,
    });
    assert.equal(conn.disconnected.length, 0, 'no Disconnected event while the station is still connected');
    const dead = await reader.readToEnd([TOPICS.deadLetter], { from, key: stationId });
    assert.deepEqual(dead.map((r) => r.text), [], 'a well-behaved station must cause no dead-letter records');
    // The Connected event precedes the station's events in time.
    assert.ok(Date.parse(conn.connected[0].value.at) <= Date.parse(records.find((r) => r.value?.messageId === station.log[0].messageId).value.receivedAt));
  }));

  test('closing the connection publishes Disconnected', logOnFailure(async () => {
    assert.ok(sessionId, 'no session id from the previous step');
    const closedAt = Date.now();
    const info = await station.close(1000, 'bye');
    assert.equal(info.code, 1000);
    const { result: rec } = await reader.waitFor([TOPICS.connections], (recs) =>
      recs.find((r) => r.value?.sessionId === sessionId && r.value?.type === 'Disconnected'),
    { from, key: stationId, timeoutMs: 20_000, what: `Disconnected of ${stationId}` });
    assertConnectionRecord(rec, {
      type: 'Disconnected', stationId, gatewayId: gw.gatewayId, version: VERSION, subprotocol: 'ocpp1.6', sessionId,
      window: { from: window.from, to: Date.now() },
    });
    assert.equal(rec.value.closeCode, 1000, 'closeCode of a normal closure by the station');
    assert.ok(Date.parse(rec.value.at) >= closedAt - 5_000);
    if (rec.value.messages !== undefined) assert.equal(rec.value.messages, station.log.length, 'messages published in the session');
    if (rec.value.durationMs !== undefined) assert.ok(rec.value.durationMs <= Date.now() - window.from + 5_000);
  }));
});
