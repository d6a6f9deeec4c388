// A station that leaves while Kafka is down: what it will not send again is counted.
//
// The gateway runs against a broker of its own, answers Heartbeats at once (reply mode
// immediate), gives Kafka 3 s per record and keeps at most 20 records in its producer queue.
// A 2.1 station boots; the broker is stopped; the station sends a Heartbeat (answered at once)
// and then more SENDs (NotifyPeriodicEventStream) than the queue and its session hold, and
// disconnects. Neither the answered Heartbeat nor any SEND comes again, and none reached
// Kafka: each must be counted, whether its record failed while the session was open, after
// the station left, while it waited for room in the queue, or beyond what a session keeps.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { gatewayOnOwnBroker } from '../lib/broker.mjs';
import { bootedRawStation } from '../lib/raw-station.mjs';
import { metricValue } from '../lib/monitor.mjs';

const DELIVERY_TIMEOUT_MS = 3_000;
const QUEUE = 20;
// More than the queue plus the 32 SENDs a session keeps waiting: some of each kind.
const SENDS = 80;
// Every record has failed by the delivery timeout; librdkafka checks timeouts once a second.
const COUNTED_WITHIN_MS = DELIVERY_TIMEOUT_MS + 15_000;

const periodic = (i) => ({ id: 7, pending: 0, basetime: new Date().toISOString(), data: [{ t: i, v: String(i) }] });

describe('a station that leaves while Kafka is down', { timeout: 120_000 }, () => {
  let own;
  let broker;
  let gw;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    own = await gatewayOnOwnBroker([
      'kafka:',
      `  delivery_timeout_ms: ${DELIVERY_TIMEOUT_MS}`,
      `  max_queued_messages: ${QUEUE}`,
      'security:',
      '  messages_per_second: 1000',
    ], ['--reply-mode', 'heartbeat=immediate']);
    ({ broker, gateway: gw } = own);
  });

  after(async () => {
    station?.terminate();
    await own?.destroy();
  });

  const metrics = async () => (await httpGet(gw.adminUrl('/metrics'))).text;

  test('the answered Heartbeat and every SEND are counted as not stored', logOnFailure(async (t) => {
    station = await bootedRawStation(gw.wsUrl(uniqueStationId('ITLEFT')), 'ocpp2.1');

    await broker.stop();
    const beat = await station.call('Heartbeat', {}, { timeoutMs: 2_000 });
    assert.equal(beat.reply.json?.[0], 3, `an immediate Heartbeat is answered while Kafka is down: ${beat.reply.text}`);
    for (let i = 0; i < SENDS; i++) {
      station.sendText(JSON.stringify([6, `send-${i}`, 'NotifyPeriodicEventStream', periodic(i)]));
    }
    // The queue is full once a record waits for room in it (the backpressure count).
    const deadline = Date.now() + 10_000;
    let text = await metrics();
    while ((metricValue(text, 'ocpp_backpressure_waits_total', null) ?? 0) === 0) {
      assert.ok(Date.now() < deadline, `the producer queue never filled:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics();
    }
    await station.close();

    const sendsFailed = (m) => metricValue(m, 'ocpp_messages_total',
      { version: '2.1', action: 'NotifyPeriodicEventStream', outcome: 'failed' }) ?? 0;
    const beatsLost = (m) => metricValue(m, 'ocpp_immediate_undelivered_total', { event_class: 'heartbeat' }) ?? 0;
    const until = Date.now() + COUNTED_WITHIN_MS;
    text = await metrics();
    while (sendsFailed(text) < SENDS || beatsLost(text) < 1) {
      assert.ok(Date.now() < until,
        `after ${COUNTED_WITHIN_MS} ms: ${sendsFailed(text)} of ${SENDS} SENDs and ${beatsLost(text)} of 1 Heartbeat counted`);
      await new Promise((r) => setTimeout(r, 250));
      text = await metrics();
    }
    assert.equal(sendsFailed(text), SENDS, 'each SEND counted once');
    assert.equal(beatsLost(text), 1, 'the Heartbeat counted once');
    assert.equal(metricValue(text, 'ocpp_messages_total',
      { version: '2.1', action: 'NotifyPeriodicEventStream', outcome: 'answered_early' }) ?? 0, 0);
    await gw.waitForOutput(/Heartbeat \S+ was answered but Kafka did not acknowledge it/);
    const log = gw.output();
    assert.match(log, /SENDs waiting for room in the producer queue or behind a token question not stored \(the station left\)/);
    assert.match(log, /dropped: 32 SENDs already wait for room in the producer queue/);
    assert.match(log, /Heartbeat \S+ was answered but Kafka did not acknowledge it/);
    t.diagnostic(`backpressure waits ${metricValue(text, 'ocpp_backpressure_waits_total', null)}`);
    assert.ok(gw.running, 'the gateway is still running');
  }));
});
