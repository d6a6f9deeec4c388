// Downstream lag against the contract (docs/contract.md "Lag"): a consumer group named in
// lag.groups is measured in records and seconds per event class by one elected instance; a
// stalled consumer shows as lag over its budget, and a consumer catching up clears it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, httpGet, randomHex, uniqueStationId, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { connectStation, closeStations } from '../lib/commands.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { eventually } from '../lib/until.mjs';

const BUDGET_S = 2;

describe('consumer lag of a downstream group, against its budget', () => {
  const tag = randomHex(4);
  const group = `it-billing-${tag}`;
  const topics = { transaction: `it-lag-${tag}.transactions`, metering: `it-lag-${tag}.meter-values`, presence: `it-lag-${tag}.presence` };
  let dir;
  let kafka;
  let admin;
  let gwA;
  let gwB;
  const stations = [];

  const lag = async (gw, name, cls) => metricValue((await httpGet(gw.adminUrl('/metrics'))).text, name, cls ? { group, event_class: cls } : {});
  const meter = (client, value) => client.call('MeterValues', { connectorId: 1, meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: String(value) }] }] });
  /** A billing consumer that reads what is there, commits it and leaves (a stall follows). */
  const consumeAll = async (expected) => {
    const consumer = kafka.consumer({ groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.transaction, topics.metering], fromBeginning: true });
    let seen = 0;
    await consumer.run({ eachMessage: async () => { seen += 1; } });
    await eventually(async () => seen >= expected, 20_000, `the billing consumer reading ${expected} records`);
    await consumer.disconnect();  // commits what it read
    return seen;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-lag-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, [
      'topics:', `  transaction: ${topics.transaction}`, `  metering: ${topics.metering}`, `  presence: ${topics.presence}`,
      'lag:', `  groups: ["${group}:transaction,metering:${BUDGET_S}"]`, '  interval_s: 1', '',
    ].join('\n'));
    kafka = new Kafka({ clientId: 'ocpp-interop-lag', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    // The smaller id measures.
    gwA = await startGateway({ gatewayId: `it-lag-a-${tag}`, extraArgs: ['--config', file] });
    gwB = await startGateway({ gatewayId: `it-lag-b-${tag}`, extraArgs: ['--config', file] });
  });

  after(async () => {
    await closeStations(stations);
    await Promise.all([gwA?.stop(), gwB?.stop()]);
    await admin?.deleteGroups([group]).catch(() => {});
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin?.disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('one instance measures; a group that never read lags by everything', async () => {
    const a = await connectStation({ port: gwA.port, stationId: uniqueStationId('ITLAG'), protocol: 'ocpp1.6' });
    stations.push(a);
    await meter(a, 1);
    await meter(a, 2);
    await a.call('StartTransaction', { connectorId: 1, idTag: 'LAGTAG', meterStart: 0, timestamp: new Date().toISOString() });
    await eventually(async () => (await lag(gwA, 'ocpp_consumer_lag_records', 'metering')) === 2 &&
      (await lag(gwA, 'ocpp_consumer_lag_records', 'transaction')) === 1, 15_000, 'the whole topics as lag');
    assert.equal(await lag(gwA, 'ocpp_consumer_lag_measuring'), 1);
    assert.equal(metricValue((await httpGet(gwA.adminUrl('/metrics'))).text, 'ocpp_consumer_lag_budget_seconds', { group }), BUDGET_S);
    await eventually(async () => (await lag(gwB, 'ocpp_consumer_lag_measuring')) === 0, 15_000, 'the other instance standing by');
    assert.equal(await lag(gwB, 'ocpp_consumer_lag_records', 'metering'), null, 'the standby instance exported a measurement of its own');
  });

  test('caught up: no lag; stalled: lag in records and seconds grows past the budget; caught up again: cleared', async () => {
    const a = stations[0];
    await consumeAll(3);
    await eventually(async () => (await lag(gwA, 'ocpp_consumer_lag_records', 'metering')) === 0 &&
      (await lag(gwA, 'ocpp_consumer_lag_records', 'transaction')) === 0 &&
      (await lag(gwA, 'ocpp_consumer_lag_seconds', 'metering')) === 0, 15_000, 'no lag once the group read everything');
    // The consumer is gone: new records wait for it.
    for (let i = 0; i < 3; i++) await meter(a, 10 + i);
    await eventually(async () => (await lag(gwA, 'ocpp_consumer_lag_records', 'metering')) === 3, 15_000, 'three records behind');
    await eventually(async () => (await lag(gwA, 'ocpp_consumer_lag_seconds', 'metering')) > BUDGET_S, 15_000, 'lag over the budget');
    assert.equal(await lag(gwA, 'ocpp_consumer_lag_records', 'transaction'), 0, 'a class with nothing new has no lag');
    await consumeAll(3);
    await eventually(async () => (await lag(gwA, 'ocpp_consumer_lag_records', 'metering')) === 0 &&
      (await lag(gwA, 'ocpp_consumer_lag_seconds', 'metering')) === 0, 15_000, 'the lag cleared');
  });

  test('when the measuring instance stops, the other takes over', async () => {
    await closeStations(stations);
    stations.length = 0;
    await gwA.stop();
    gwA = null;
    await eventually(async () => (await lag(gwB, 'ocpp_consumer_lag_measuring')) === 1, 20_000, 'the other instance measuring');
    await eventually(async () => (await lag(gwB, 'ocpp_consumer_lag_records', 'metering')) === 0, 10_000, 'its first measurement');
  });
});
