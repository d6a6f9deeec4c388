// A 1.6 StartTransaction that arrives while the producer queue is full waits for room, as
// every other record does, instead of being refused at once.
//
// The gateway runs against a broker of its own, keeps at most 5 records in its producer
// queue and gives Kafka two minutes per record. A 2.1 station and a 1.6 station boot; the
// broker is stopped; the 2.1 station sends more SENDs than the queue holds, so that records
// wait for room. The 1.6 station then sends StartTransaction, whose transaction number is
// itself a record. It must be held (one more call in flight) and, once the broker is back,
// answered with a transaction id, not with the InternalError of a call that was not stored.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueStationId, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { gatewayOnOwnBroker } from '../lib/broker.mjs';
import { bootedRawStation } from '../lib/raw-station.mjs';
import { metricValue } from '../lib/monitor.mjs';

const QUEUE = 5;
const SENDS = 20;
// Long enough that nothing fails while the broker is down and restarting.
const DELIVERY_TIMEOUT_MS = 120_000;
// The broker's restart (about 10 s here) plus librdkafka's reconnect back-off (at most 10 s).
const ANSWERED_WITHIN_MS = 90_000;

/** The gateway's configuration: the queue of QUEUE records, `deliveryMs` per record. */
const gatewayYaml = (deliveryMs) => [
  'kafka:',
  `  delivery_timeout_ms: ${deliveryMs}`,
  `  max_queued_messages: ${QUEUE}`,
  'security:',
  '  messages_per_second: 1000',
];

const periodic = (i) => ({ id: 7, pending: 0, basetime: new Date().toISOString(), data: [{ t: i, v: String(i) }] });

describe('a StartTransaction while the producer queue is full', { timeout: 240_000 }, () => {
  let own;
  let broker;
  let gw;
  const stations = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    own = await gatewayOnOwnBroker(gatewayYaml(DELIVERY_TIMEOUT_MS));
    ({ broker, gateway: gw } = own);
  });

  after(async () => {
    for (const s of stations) s.terminate();
    await own?.destroy();
  });

  const metrics = async () => (await httpGet(gw.adminUrl('/metrics'))).text;
  const inFlight = (text) => metricValue(text, 'ocpp_calls_in_flight', null);
  const waitInFlight = async (n, what) => {
    const deadline = Date.now() + 10_000;
    let text = await metrics();
    while (inFlight(text) !== n) {
      assert.ok(Date.now() < deadline, `${what}: ${inFlight(text)} calls in flight, not ${n}:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
      text = await metrics();
    }
    return text;
  };

  test('waits for room and is answered with a transaction id once Kafka is back', logOnFailure(async (t) => {
    const streamer = await bootedRawStation(gw.wsUrl(uniqueStationId('ITFULL21')), 'ocpp2.1');
    stations.push(streamer);
    const charger = await bootedRawStation(gw.wsUrl(uniqueStationId('ITFULL16')), 'ocpp1.6');
    stations.push(charger);

    await broker.stop();
    for (let i = 0; i < SENDS; i++) {
      streamer.sendText(JSON.stringify([6, `send-${i}`, 'NotifyPeriodicEventStream', periodic(i)]));
    }
    // Every SEND is in flight: some in the queue, the rest waiting for room in it.
    const text = await waitInFlight(SENDS, 'the SENDs');
    assert.ok(metricValue(text, 'ocpp_backpressure_waits_total', null) > 0, 'the producer queue is full');

    const start = charger.call('StartTransaction', {
      connectorId: 1, idTag: 'TAG-FULL', meterStart: 0, timestamp: new Date().toISOString(),
    }, { timeoutMs: ANSWERED_WITHIN_MS });
    // Held, not refused: one more call in flight while the queue stays full.
    await waitInFlight(SENDS + 1, 'the StartTransaction');
    await broker.start();
    const { reply } = await start;
    assert.equal(reply.json?.[0], 3, `StartTransaction answered ${reply.text}`);
    const id = reply.json[2]?.transactionId;
    assert.ok(Number.isInteger(id) && id > 0, `a transaction id: ${reply.text}`);
    const after = await metrics();
    assert.equal(metricValue(after, 'ocpp_messages_total',
      { version: '1.6', action: 'StartTransaction', outcome: 'failed' }) ?? 0, 0,
    'no StartTransaction counted as failed');
    t.diagnostic(`transaction ${id}; backpressure waits ${metricValue(after, 'ocpp_backpressure_waits_total', null)}`);
  }));
});

// A record that waits for room in a full queue fails once it has waited the delivery timeout,
// as one Kafka did not take in time does: the station hears within twice the delivery timeout
// (waiting for room, then in the queue), not after every record ahead of it had its turn.
describe('a CALL behind a full producer queue while Kafka is down', { timeout: 240_000 }, () => {
  const DELIVERY_MS = 3_000;
  // The queue plus the 32 SENDs a session keeps waiting: a CALL behind them would otherwise
  // wait for seven rounds of timed-out records (over 20 s).
  const AHEAD = QUEUE + 32;
  let own;
  let broker;
  let gw;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    own = await gatewayOnOwnBroker(gatewayYaml(DELIVERY_MS));
    ({ broker, gateway: gw } = own);
  });

  after(async () => {
    station?.terminate();
    await own?.destroy();
  });

  test('is answered InternalError within twice the delivery timeout', logOnFailure(async (t) => {
    station = await bootedRawStation(gw.wsUrl(uniqueStationId('ITFULLDL')), 'ocpp2.1');

    await broker.stop();
    for (let i = 0; i < AHEAD; i++) {
      station.sendText(JSON.stringify([6, `send-${i}`, 'NotifyPeriodicEventStream', periodic(i)]));
    }
    const sent = Date.now();
    const beat = await station.call('Heartbeat', {}, { timeoutMs: 60_000 });
    const tookMs = Date.now() - sent;
    t.diagnostic(`Heartbeat answered after ${tookMs} ms: ${beat.reply.text}`);
    assert.equal(beat.reply.json?.[0], 4, `a CALLERROR: ${beat.reply.text}`);
    assert.equal(beat.reply.json?.[2], 'InternalError');
    // librdkafka looks at timeouts once a second.
    assert.ok(tookMs <= 2 * DELIVERY_MS + 2_000, `answered after ${tookMs} ms`);
    // The SENDs ahead of it: those in librdkafka's queue fail by its own timeout.
    const sendsFailed = async () => metricValue((await httpGet(gw.adminUrl('/metrics'))).text,
      'ocpp_messages_total', { version: '2.1', action: 'NotifyPeriodicEventStream', outcome: 'failed' }) ?? 0;
    const deadline = Date.now() + 2 * DELIVERY_MS + 2_000;
    let failed = await sendsFailed();
    while (failed < AHEAD) {
      assert.ok(Date.now() < deadline, `${failed} of ${AHEAD} SENDs counted as not stored`);
      await new Promise((r) => setTimeout(r, 100));
      failed = await sendsFailed();
    }
    assert.equal(failed, AHEAD, 'each SEND counted once');
  }));
});
