// Freshness against the contract (docs/contract.md): every acknowledged station event is
// measured from its receipt and from the station's own timestamp to the Kafka ack, per event
// class; events later than their class's budget are counted; station clocks that are off are
// counted and reported once per connection, and their messages are still taken.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, httpGet } from '../lib/gateway.mjs';
import { connectStation, closeStations } from '../lib/commands.mjs';
import { uniqueStationId } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { eventually } from '../lib/until.mjs';

const iso = (offsetMs) => new Date(Date.now() + offsetMs).toISOString();

describe('freshness: events measured against their class budgets', () => {
  let gw;
  let reader;
  const stations = [];
  const metrics = async () => (await httpGet(gw.adminUrl('/metrics'))).text;
  const station = async (protocol) => {
    const client = await connectStation({ port: gw.port, stationId: uniqueStationId('ITFRESH'), protocol });
    stations.push(client);
    return client;
  };

  before(async () => {
    gw = await startGateway();
    reader = await new TopicReader().connect();
  });

  after(async () => {
    await closeStations(stations);
    await gw?.stop();
    await reader?.close();
  });

  test('late events are counted over budget; on-time ones and other classes are not', async () => {
    const a = await station('ocpp1.6');
    const b = await station('ocpp2.0.1');
    const m0 = await metrics();
    const count = (m, name, cls) => metricValue(m, name, { event_class: cls });
    // Status budget 5 s: one event 10 s late, one on time.
    await a.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: iso(-10_000) });
    await a.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: iso(0) });
    // Metering budget 60 s: the newest sample is what counts (an older one in the same message).
    await b.call('MeterValues', { evseId: 1, meterValue: [
      { timestamp: iso(-120_000), sampledValue: [{ value: 10 }] },
      { timestamp: iso(-1_000), sampledValue: [{ value: 11 }] }] });
    await a.call('Heartbeat', {});
    // The counts are updated on the ack, a moment before the station gets its answer.
    let m1;
    await eventually(async () => {
      m1 = await metrics();
      return count(m1, 'ocpp_event_receipt_to_ack_seconds_count', 'heartbeat') === count(m0, 'ocpp_event_receipt_to_ack_seconds_count', 'heartbeat') + 1;
    }, 5_000, 'the heartbeat measured');
    const delta = (name, cls) => count(m1, name, cls) - count(m0, name, cls);
    assert.equal(delta('ocpp_event_freshness_seconds_count', 'status'), 2);
    assert.equal(delta('ocpp_events_over_freshness_budget_total', 'status'), 1);
    assert.equal(delta('ocpp_event_freshness_seconds_count', 'metering'), 1);
    assert.equal(delta('ocpp_events_over_freshness_budget_total', 'metering'), 0);
    assert.equal(delta('ocpp_event_receipt_to_ack_seconds_count', 'status'), 2);
    assert.equal(delta('ocpp_event_receipt_to_ack_seconds_count', 'metering'), 1);
    // A heartbeat has no moment of its own: receipt to ack only.
    assert.equal(delta('ocpp_event_freshness_seconds_count', 'heartbeat'), 0);
    // The 10 s late status is above the 5 s bucket, the on-time one within 1 s.
    const bucket = (m, le) => metricValue(m, 'ocpp_event_freshness_seconds_bucket', { event_class: 'status', le });
    assert.equal(bucket(m1, '1') - bucket(m0, '1'), 1);
    assert.equal(bucket(m1, '30') - bucket(m0, '30'), 2);
  });

  test('a station clock that is off: counted, reported once per connection, messages taken', async () => {
    const a = await station('ocpp1.6');
    const from = await reader.snapshot([TOPICS.security]);
    const m0 = await metrics();
    const off = (m, direction) => metricValue(m, 'ocpp_station_clock_off_total', { direction });
    await a.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(3_600_000), sampledValue: [{ value: '5' }] }] });
    await a.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: iso(3_600_000), sampledValue: [{ value: '6' }] }] });
    const info = await a.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: '2000-01-01T00:00:00Z' });
    assert.deepEqual(info, {});
    const m1 = await metrics();
    assert.equal(off(m1, 'ahead') - off(m0, 'ahead'), 2);
    assert.equal(off(m1, 'behind') - off(m0, 'behind'), 1);
    const { records } = await reader.waitFor([TOPICS.security], (recs) => recs.some((r) => r.value?.type === 'StationClockOff'),
      { from, key: a.identity, what: 'the StationClockOff event' });
    const event = records.find((r) => r.value?.type === 'StationClockOff').value;
    assertSchema('securityEvent', event);
    assert.equal(event.stationId, a.identity);
    assert.match(event.detail, /^MeterValues timestamp \S+ is 3[56]\d\d s ahead of the gateway's clock/);
    const later = await reader.readToEnd([TOPICS.security], { from, key: a.identity });
    assert.equal(later.filter((r) => r.value?.type === 'StationClockOff').length, 1, 'reported more than once per connection');
  });
});
