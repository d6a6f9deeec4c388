// A frame the gateway takes (limits.max_message_bytes raised to 2 MiB, and the producer's
// message.max.bytes with it, as start-up requires) but whose record is larger than the broker
// takes (the topics' max.message.bytes, about 1 MiB by default, not raised) is answered with a
// CALLERROR that says so: resending cannot help, and "try again" would have the station resend
// it for ever. The gateway logs it as an error, and said at start-up which topics take records
// smaller than its frame limit.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TOPICS } from '../lib/kafka.mjs';
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

describe('a producer batch.size above what the topics take', { timeout: 60_000 }, () => {
  let gw;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    // The broker's default max.message.bytes (1,048,588) is above the frame limit (256 KiB)
    // and below this batch.size: single records fit, a full batch would be refused whole.
    gw = await startGateway({ extraArgs: ['--kafka-property', 'batch.size=2000000'] });
  });

  after(async () => {
    await gw?.stop();
  });

  test('names the topics a full batch would not fit', logOnFailure(async () => {
    await gw.waitForOutput(/take batches smaller than the producer's batch\.size \(2000000\)/);
    const warning = gw.output().split('\n').find((l) => l.includes("take batches smaller than the producer's batch.size (2000000)"));
    assert.ok(warning, 'a start-up warning about batch.size against the topics\' max.message.bytes');
    assert.match(warning, new RegExp(`${TOPICS.heartbeats.replace('.', '\\.')} \\(\\d+\\)`), `${TOPICS.heartbeats} named: ${warning}`);
  }));
});
