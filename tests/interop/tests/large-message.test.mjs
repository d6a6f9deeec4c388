// A frame the gateway takes (limits.max_message_bytes raised to 2 MiB, and the producer's
// message.max.bytes with it, as start-up requires) but whose record is larger than the broker
// takes (the topics' max.message.bytes, about 1 MiB by default, not raised) is answered with a
// CALLERROR that says so: resending cannot help, and "try again" would have the station resend
// it for ever. The gateway logs it as an error, and said at start-up which topics take records
// smaller than its frame limit.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS, KAFKA_BROKERS, createTopicsServed } from '../lib/kafka.mjs';
import { gatewayOnOwnBroker } from '../lib/broker.mjs';
import { bootedRawStation } from '../lib/raw-station.mjs';

const FRAME_LIMIT = 2 * 1024 * 1024;
const DATA_BYTES = 1_500_000;

describe('a message too large for Kafka', { timeout: 60_000 }, () => {
  let own;
  let gw;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  // A broker of its own: the topics' limits are the broker's defaults, whatever the shared
  // broker's tests did to theirs.
  before(async () => {
    own = await gatewayOnOwnBroker(['limits:', `  max_message_bytes: ${FRAME_LIMIT}`,
                                    'kafka:', '  properties:', `    message.max.bytes: ${2 * FRAME_LIMIT}`]);
    gw = own.gateway;
  });

  after(async () => {
    station?.terminate();
    await own?.destroy();
  });

  test('the topics that take less than the frame limit are named at start-up', logOnFailure(async () => {
    const warning = gw.output().split('\n').find((l) => l.includes('take records smaller than limits.max_message_bytes'));
    assert.ok(warning, 'a start-up warning about the topics\' max.message.bytes');
    assert.match(warning, new RegExp(`limits\\.max_message_bytes \\(${FRAME_LIMIT}\\)`));
    for (const topic of [TOPICS.dataTransfer, TOPICS.transactions, TOPICS.deadLetter]) {
      assert.match(warning, new RegExp(`${topic.replace('.', '\\.')} \\(\\d+\\)`), `${topic} named: ${warning}`);
    }
  }));

  test('is answered InternalError saying it cannot be stored, and a small one still is', logOnFailure(async () => {
    station = await bootedRawStation(gw.wsUrl(uniqueStationId('ITLARGE')), 'ocpp1.6');
    const { reply } = await station.call('DataTransfer', { vendorId: 'V', data: 'x'.repeat(DATA_BYTES) });
    assert.equal(reply.json?.[0], 4, `a CALLERROR: ${reply.text.slice(0, 200)}`);
    assert.equal(reply.json[2], 'InternalError');
    assert.match(reply.json[3], /too large for Kafka/, `the description: ${reply.json[3]}`);
    assert.match(gw.output(), /DataTransfer \S+ is a record of \d+ bytes, more than Kafka takes/);

    const small = await station.call('DataTransfer', { vendorId: 'V', data: 'x'.repeat(1_000) });
    assert.equal(small.reply.json?.[0], 3, `a small DataTransfer is stored: ${small.reply.text}`);
  }));
});

describe('a producer batch.size above what a topic takes', { timeout: 60_000 }, () => {
  let gw;
  let dir;
  let admin;
  const topic = `it-batch-${randomBytes(4).toString('hex')}`;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    // Heartbeats go to a topic taking 600,000 bytes: the largest record (256 KiB and its
    // envelope) fits, a batch of librdkafka's size (1,000,000, what batch.size 2,000,000
    // comes to under message.max.bytes) would be refused whole.
    admin = new Kafka({ clientId: 'large-message-test', brokers: [KAFKA_BROKERS], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await createTopicsServed(admin, [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '600000' }] }]);
    dir = mkdtempSync(join(tmpdir(), 'ocpp-batch-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `topics:\n  heartbeat: ${topic}\n`);
    gw = await startGateway({ extraArgs: ['--config', config, '--kafka-property', 'batch.size=2000000'] });
  });

  after(async () => {
    await gw?.stop();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin?.disconnect().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('names the topic a full batch would not fit', logOnFailure(async () => {
    const pattern = /take batches smaller than the producer's batches \(1000000 bytes/;
    await gw.waitForOutput(pattern);
    const warning = gw.output().split('\n').find((l) => pattern.test(l));
    assert.match(warning, new RegExp(`${topic} \\(600000\\)`), `${topic} named: ${warning}`);
    // The broker's default (1,048,588) takes such a batch: those topics are not named.
    assert.doesNotMatch(warning, new RegExp(`${TOPICS.status.replace('.', '\\.')} \\(`), warning);
  }));
});
