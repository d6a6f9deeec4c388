// A station's records keep its order when it has more than one CALL in flight
// (limits.max_pending_calls 2). A 1.6 StartTransaction gets its transaction id from a record of
// its own (the transaction-id topic) before its event is published; a StatusNotification sent
// right behind it must not be published in between: its record's `sequence` (the session's
// order of published events) comes after the StartTransaction's. (The answers follow each
// record's acknowledgement; records on two topics may be acknowledged in either order.)

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGatewayWithConfig, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { bootedRawStation } from '../lib/raw-station.mjs';

describe('a station with two CALLs in flight', { timeout: 60_000 }, () => {
  let gw;
  let reader;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    gw = await startGatewayWithConfig(['limits:', '  max_pending_calls: 2']);
    reader = await new TopicReader().connect();
  });

  after(async () => {
    station?.terminate();
    await gw?.stopAndClean();
    await reader?.close();
  });

  test('a StatusNotification behind a StartTransaction waiting for its number is published after it', logOnFailure(async () => {
    const id = uniqueStationId('ITORDER');
    station = await bootedRawStation(gw.wsUrl(id), 'ocpp1.6');
    const from = await reader.snapshot([TOPICS.transactions, TOPICS.status]);
    const at = new Date().toISOString();
    await station.sendCall('StartTransaction', { connectorId: 1, idTag: 'ORDER', meterStart: 0, timestamp: at }, 'start');
    await station.sendCall('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: at }, 'status');
    const answers = [await station.next(10_000, 'an answer'), await station.next(10_000, 'the other answer')];
    const byId = Object.fromEntries(answers.map((a) => [a.json?.[1], a.json]));
    assert.equal(byId.start?.[0], 3, `StartTransaction answered: ${answers.map((a) => a.text).join(' ')}`);
    assert.ok(Number.isInteger(byId.start[2].transactionId), JSON.stringify(byId.start));
    assert.equal(byId.status?.[0], 3, `StatusNotification answered: ${answers.map((a) => a.text).join(' ')}`);

    const { records } = await reader.waitFor([TOPICS.transactions, TOPICS.status],
      (recs) => recs.length >= 2, { from, key: id, what: 'both records' });
    const byMessage = Object.fromEntries(records.map((r) => [r.value.messageId, r.value]));
    assert.ok(byMessage.start && byMessage.status, `records: ${JSON.stringify(records.map((r) => r.value.messageId))}`);
    assert.equal(byMessage.start.sessionId, byMessage.status.sessionId);
    assert.ok(byMessage.start.sequence < byMessage.status.sequence,
      `sequence ${byMessage.start.sequence} (StartTransaction) before ${byMessage.status.sequence} (StatusNotification)`);
  }));
});
