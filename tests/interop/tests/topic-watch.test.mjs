// A topic deleted and created again behind a running gateway is noticed and
// reported, never recreated by the gateway.
//
// The gateway runs against a broker of its own (auto-creation off, as
// deploy/kafka starts it) with kafka.topic_check_interval_s 1. The status
// topic is deleted with the admin API: the gateway must say so (log and
// ocpp_kafka_topic_missing), answer a StatusNotification with an error rather
// than a success, and the topic must stay absent. Then the topic is created
// again with another partition count: the gateway must report the recreation
// (log and ocpp_kafka_topic_recreated_total, new partition count) and serve
// StatusNotification on the new topic. Then the transaction-id topic goes: a 1.6
// StartTransaction gets InternalError, and the failure is counted like any record's. Created
// again, its offsets start at 0 once more: the running gateway refuses the ids it already gave
// and moves the topic on past them; `ocpp-gateway topics apply` does the same for a topic
// created again while no gateway runs, and a gateway started after the topic was deleted
// creates it and moves it on. No transaction id is ever given twice.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import rpc from 'ocpp-rpc';

import { GATEWAY_BIN, httpGet, startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { PrivateBroker } from '../lib/broker.mjs';
import { TOPICS, createTopicsServed } from '../lib/kafka.mjs';
import { metricValue } from '../lib/monitor.mjs';

const { RPCClient } = rpc;
const TOPIC = TOPICS.status;

/** The value of metric `name` with `labels` on the gateway now (null when not exported). */
async function metric(gw, name, labels) {
  return metricValue((await httpGet(gw.adminUrl('/metrics'))).text, name, labels);
}

/** Asks again every 200 ms until the metric has `value` (the gateway checks every second). */
async function metricReaches(gw, name, labels, value, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await metric(gw, name, labels);
    if (last === value) return;
    assert.ok(Date.now() < deadline, `${name}${JSON.stringify(labels)} is ${last}, not ${value}, after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

function statusNotification(station) {
  return station.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
}

describe('a topic deleted and created again while the gateway runs', () => {
  let broker;
  let gw;
  let dir;
  let config;
  let admin;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    dir = mkdtempSync(join(tmpdir(), 'ocpp-topic-watch-'));
    config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'kafka:\n  topic_check_interval_s: 1\n  delivery_timeout_ms: 5000\n');
    gw = await startGateway(gatewayOptions());
    admin = new Kafka({ clientId: 'topic-watch-test', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    station = await connectStation(gw);
  });

  const gatewayOptions = () => ({
    brokers: broker.brokers,
    // A record for a topic the cluster no longer knows fails within the delivery timeout.
    extraArgs: ['--config', config, '--kafka-property', 'topic.metadata.propagation.max.ms=2000'],
  });

  async function connectStation(gateway) {
    const client = new RPCClient({
      endpoint: gateway.endpoint,
      identity: uniqueStationId('ITTOPIC'),
      protocols: ['ocpp1.6'],
      strictMode: true,
      reconnect: false,
      callTimeoutMs: 30_000,
      pingIntervalMs: 0,
    });
    await client.connect();
    return client;
  }

  after(async () => {
    await station?.close({ force: true }).catch(() => {});
    await admin?.disconnect().catch(() => {});
    if (gw?.running) await gw.stop().catch(() => gw.kill());
    await broker?.destroy().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('deletion is reported and the topic is not recreated; the recreation is reported and served', logOnFailure(async () => {
    await metricReaches(gw, 'ocpp_kafka_topic_missing', { topic: TOPIC }, 0);
    const partitionsBefore = await metric(gw, 'ocpp_kafka_topic_partitions', { topic: TOPIC });
    assert.ok(partitionsBefore >= 1, `partitions of ${TOPIC} exported: ${partitionsBefore}`);
    await statusNotification(station);

    await admin.deleteTopics({ topics: [TOPIC], timeout: 15_000 });
    await metricReaches(gw, 'ocpp_kafka_topic_missing', { topic: TOPIC }, 1);
    await gw.waitForOutput(new RegExp(`topic ${TOPIC.replace('.', '\\.')} no longer exists`));

    // No success for a record the cluster cannot hold: an error the station can act on.
    const outcome = await statusNotification(station).then((r) => ({ result: r }), (e) => ({ error: e }));
    assert.ok(outcome.error, `StatusNotification answered ${JSON.stringify(outcome.result)} with the topic gone`);
    assert.equal(outcome.error.rpcErrorCode, 'InternalError', `error: ${outcome.error.message}`);
    assert.ok(!(await admin.listTopics()).includes(TOPIC), `${TOPIC} was created again by the gateway's traffic`);

    await createTopicsServed(admin, [{ topic: TOPIC, numPartitions: partitionsBefore + 1 }]);
    await metricReaches(gw, 'ocpp_kafka_topic_recreated_total', { topic: TOPIC }, 1);
    assert.equal(await metric(gw, 'ocpp_kafka_topic_missing', { topic: TOPIC }), 0);
    assert.equal(await metric(gw, 'ocpp_kafka_topic_partitions', { topic: TOPIC }), partitionsBefore + 1);
    await gw.waitForOutput(new RegExp(`topic ${TOPIC.replace('.', '\\.')} was deleted and created again`));
    // Other topics were never reported.
    assert.equal(await metric(gw, 'ocpp_kafka_topic_missing', { topic: TOPICS.heartbeats }), 0);
    assert.equal(await metric(gw, 'ocpp_kafka_topic_recreated_total', { topic: TOPICS.heartbeats }), 0);

    // The new topic is served.
    await statusNotification(station);
  }));

  test('the transaction-id topic gone: a StartTransaction gets InternalError, counted as a delivery failure', logOnFailure(async () => {
    const IDS = 'ocpp.transaction-ids';
    await metricReaches(gw, 'ocpp_kafka_topic_missing', { topic: IDS }, 0);
    const failuresBefore = (await metric(gw, 'ocpp_kafka_delivery_failures_total', { topic: IDS })) ?? 0;
    await admin.deleteTopics({ topics: [IDS], timeout: 15_000 });
    await metricReaches(gw, 'ocpp_kafka_topic_missing', { topic: IDS }, 1);
    const start = { connectorId: 1, idTag: 'TOPICWATCH', meterStart: 0, timestamp: new Date().toISOString() };
    const outcome = await station.call('StartTransaction', start).then((r) => ({ result: r }), (e) => ({ error: e }));
    assert.ok(outcome.error, `StartTransaction answered ${JSON.stringify(outcome.result)} without a transaction-id topic`);
    assert.equal(outcome.error.rpcErrorCode, 'InternalError', `error: ${outcome.error.message}`);
    // What OcppKafkaDeliveryFailures alerts on: one record the cluster did not take.
    await metricReaches(gw, 'ocpp_kafka_delivery_failures_total', { topic: IDS }, failuresBefore + 1);
  }));

  test('the transaction-id topic created again: no id is given twice, by the running gateway or one started after', logOnFailure(async (t) => {
    const IDS = 'ocpp.transaction-ids';
    const MOVED = /ocpp\.transaction-ids ended before transaction id \d+ \(the largest on ocpp\.transactions[^)]*\): it was created again\. Moved it on by \d+ records/;
    const given = [];
    const start = () => station.call('StartTransaction', { connectorId: 1, idTag: 'TOPICWATCH', meterStart: 0, timestamp: new Date().toISOString() })
      .then((r) => ({ id: r.transactionId }), (e) => ({ error: e }));
    /** StartTransaction until it is answered with an id (InternalError while the topic is gone or refused). */
    const startUntilAnswered = async (what, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const outcome = await start();
        if (outcome.id !== undefined) {
          assert.ok(given.every((id) => id < outcome.id), `${what}: id ${outcome.id} given again or out of order after ${given.slice(-3)}`);
          given.push(outcome.id);
          return outcome.id;
        }
        assert.equal(outcome.error.rpcErrorCode, 'InternalError', `${what}: ${outcome.error.message}`);
        assert.ok(Date.now() < deadline, `${what}: no transaction id within ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 200));  // the station's retry interval
      }
    };
    const stopGateway = async () => {
      await station.close({ force: true });
      await gw.stop();
    };
    const startAgain = async (options) => {
      gw = await startGateway(options);
      station = await connectStation(gw);
    };

    // The previous test left the topic deleted. Created with 500 records in it, as a topic that
    // has numbered 500 transactions.
    await createTopicsServed(admin, [{ topic: IDS, numPartitions: 1 }]);
    const producer = new Kafka({ clientId: 'topic-watch-ids', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic: IDS, messages: Array.from({ length: 500 }, () => ({ value: '{}' })) });
    await producer.disconnect();
    await startUntilAnswered('first');
    const highest = await startUntilAnswered('second');
    assert.ok(highest > 500, `ids follow the topic's offsets: ${given}`);

    // 1. Deleted and created again behind the running gateway, which looks at that topic every
    // few seconds: numbering stops until the topic is moved on.
    await admin.deleteTopics({ topics: [IDS], timeout: 15_000 });
    await gw.waitForOutput(/ocpp\.transaction-ids no longer exists: no 1\.6 transaction id is given until it is checked/);
    await createTopicsServed(admin, [{ topic: IDS, numPartitions: 1 }]);
    const afterWatch = await startUntilAnswered('after the topic check saw it');
    assert.ok(afterWatch > highest + 10_000, `id ${afterWatch} after the margin past ${highest}`);
    await gw.waitForOutput(MOVED);

    // 2. Created again while no gateway runs: `topics apply` moves it on. The next gateway
    // checks no other topics while it runs (step 3).
    await stopGateway();
    await admin.deleteTopics({ topics: [IDS], timeout: 15_000 });
    await createTopicsServed(admin, [{ topic: IDS, numPartitions: 1 }]);
    const applied = await new Promise((resolve) => {
      execFile(GATEWAY_BIN, ['topics', 'apply', '--config', config, '--kafka-brokers', broker.brokers], { timeout: 120_000 },
        (error, stdout, stderr) => resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr }));
    });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, new RegExp(`done: ocpp\\.transaction-ids was behind transaction id ${afterWatch} on ocpp\\.transactions \\(created again\\): moved on by \\d+ records`));
    const unwatched = join(dir, 'unwatched.yaml');
    writeFileSync(unwatched, 'kafka:\n  topic_check_interval_s: 0\n  delivery_timeout_ms: 5000\n');
    await startAgain({ ...gatewayOptions(), extraArgs: ['--config', unwatched, '--kafka-property', 'topic.metadata.propagation.max.ms=2000'] });
    const afterApply = await startUntilAnswered('after topics apply');
    assert.ok(afterApply > afterWatch + 10_000, `id ${afterApply} after the margin past ${afterWatch}`);
    assert.doesNotMatch(gw.output(), MOVED, 'topics apply had moved it on');

    // 3. Created again behind a gateway whose general topic check is off: the transaction-id
    // topic is still looked at (or its first id at or below one given is refused, whichever
    // comes first), and moved on.
    await admin.deleteTopics({ topics: [IDS], timeout: 15_000 });
    await createTopicsServed(admin, [{ topic: IDS, numPartitions: 1 }]);
    const afterRefusal = await startUntilAnswered('after the refusal');
    assert.ok(afterRefusal > afterApply + 10_000, `id ${afterRefusal} after the margin past ${afterApply}`);
    await gw.waitForOutput(MOVED);
    assert.match(gw.output(), /ocpp\.transaction-ids (no longer exists|was created again): no 1\.6 transaction id is given|ocpp\.transaction-ids gave offset \d+, but transaction ids up to \d+ may have been given before: refused/);

    // 4. Deleted while no gateway runs: the next one creates it and moves it on before it numbers.
    await stopGateway();
    await admin.deleteTopics({ topics: [IDS], timeout: 15_000 });
    await startAgain(gatewayOptions());
    await gw.waitForOutput(MOVED);
    const afterRestart = await startUntilAnswered('after a restart');
    assert.ok(afterRestart > afterRefusal + 10_000, `id ${afterRestart} after the margin past ${afterRefusal}`);
    t.diagnostic(`ids given: ${given.join(', ')}`);
  }));
});
