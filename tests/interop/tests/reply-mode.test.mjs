// Reply modes per event class: with heartbeat=immediate the gateway answers Heartbeats at
// once and publishes them asynchronously; other classes stay after-ack. The mode is visible
// in /metrics; transactions can never be switched to immediate.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

import { startGateway, uniqueStationId, withGatewayLog, httpGet, GATEWAY_BIN } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { Station } from '../lib/station.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { assertSchema } from '../lib/schemas.mjs';

const request = (action) => JSON.parse(readFileSync(join(FIXTURES_DIR, 'ocpp1.6', 'requests', `${action}.json`), 'utf8'));

describe('reply modes', () => {
  let gw;
  let reader;
  let from;
  let station;
  const stationId = uniqueStationId('ITRM');
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.heartbeats, TOPICS.status]);
    gw = await startGateway({ extraArgs: ['--reply-mode', 'heartbeat=immediate'] });
  });

  after(async () => {
    await station?.client.close({ force: true }).catch(() => {});
    try {
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
    }
  });

  test('heartbeats are answered at once and still published; other classes after the ack', logOnFailure(async () => {
    station = new Station({ endpoint: gw.endpoint, identity: stationId, protocol: 'ocpp1.6' });
    await station.connect();
    const boot = await station.call('BootNotification', request('BootNotification'));
    const beats = [];
    for (let i = 0; i < 3; i++) beats.push(await station.call('Heartbeat', {}));

    // After-ack class: the record exists by the time the answer arrived.
    const status = await reader.readToEnd([TOPICS.status], { from, key: stationId });
    assert.equal(status.filter((r) => r.value.messageId === boot.messageId).length, 1, 'BootNotification stored before its answer');

    // Immediate class: every heartbeat lands, each with the reply the station got.
    const { records } = await reader.waitFor([TOPICS.heartbeats],
      (recs) => recs.length >= beats.length, { from, key: stationId, what: 'the three heartbeats' });
    assert.equal(records.length, beats.length);
    for (const beat of beats) {
      const rec = records.find((r) => r.value.messageId === beat.messageId);
      assert.ok(rec, `heartbeat ${beat.messageId} on ${TOPICS.heartbeats}`);
      assertSchema('stationEvent', rec.value, `heartbeat ${beat.messageId}`);
      assert.deepEqual(rec.value.reply, beat.reply);
    }

    const metrics = (await httpGet(gw.adminUrl('/metrics'))).text;
    assert.equal(metricValue(metrics, 'ocpp_reply_mode', { event_class: 'heartbeat', mode: 'immediate' }), 1);
    assert.equal(metricValue(metrics, 'ocpp_reply_mode', { event_class: 'status', mode: 'after-ack' }), 1);
    assert.equal(metricValue(metrics, 'ocpp_reply_mode', { event_class: 'transaction', mode: 'after-ack' }), 1);
    assert.equal(metricValue(metrics, 'ocpp_messages_total', { version: '1.6', action: 'Heartbeat', outcome: 'answered_early' }), 3);
    assert.equal(metricValue(metrics, 'ocpp_messages_total', { version: '1.6', action: 'BootNotification', outcome: 'acknowledged' }), 1);
    assert.equal(metricValue(metrics, 'ocpp_immediate_undelivered_total', { event_class: 'heartbeat' }), 0);
  }));

  test('transactions cannot be answered before the ack: the gateway refuses to start', () => {
    const run = spawnSync(GATEWAY_BIN, ['--reply-mode', 'transaction=immediate'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /transaction events are always answered after the Kafka ack/);
  });
});
