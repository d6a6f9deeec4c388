// REST command submission when Kafka does not take the command record: the
// caller hears 503 as soon as the write fails, never 202 for a record that is
// not on the topic, and never waits out its whole result wait for a 504.
//
// The gateway gets command topics of its own (isolatedCommands) and a 3 s
// delivery timeout; once it runs, its command topic is deleted (no broker
// here creates topics on its own), so the next command record has nowhere to
// go. Before that, the same requests are answered 202 / 200 as usual.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';

import { startGateway, uniqueStationId, withGatewayLog, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { isolatedCommands, restCall, connectStation, waitPresence, closeStations } from '../lib/commands.mjs';

const TOKEN = 'secret';
const DELIVERY_TIMEOUT_MS = 3_000;

describe('REST submission when Kafka refuses the command record', { timeout: 120_000 }, () => {
  let gw;
  const iso = isolatedCommands();
  const stations = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    gw = await startGateway({
      env: { OCPP_GATEWAY_ADMIN_TOKEN: TOKEN },
      extraArgs: [...iso.extraArgs, '--kafka-property', `message.timeout.ms=${DELIVERY_TIMEOUT_MS}`],
    });
  });

  after(async () => {
    await closeStations(stations);
    try {
      if (gw) await gw.stop();
    } finally {
      await iso.cleanup();
    }
  });

  test('202 only once the record is on Kafka; 503 within the delivery timeout once it cannot be', logOnFailure(async (t) => {
    const stationId = uniqueStationId('ITSUBMIT');
    const client = await connectStation({ port: gw.port, stationId, protocol: 'ocpp1.6', handlers: {
      ChangeAvailability: () => ({ status: 'Accepted' }),
    } });
    stations.push(client);
    await waitPresence(gw.adminPort, stationId, { token: TOKEN });

    const payload = { connectorId: 0, type: 'Operative' };
    const accepted = await restCall(gw.adminPort, stationId, 'ChangeAvailability', payload, { token: TOKEN, query: { wait: 'false' } });
    assert.equal(accepted.status, 202, accepted.text);
    const completed = await restCall(gw.adminPort, stationId, 'ChangeAvailability', payload, { token: TOKEN, timeoutMs: 30_000 });
    assert.equal(completed.status, 200, completed.text);
    assert.equal(completed.body.status, 'Completed', completed.text);

    // The command topic goes away under the running gateway.
    const kafka = new Kafka({ clientId: 'ocpp-interop-submit', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [iso.topics.commands], timeout: 15_000 });
    } finally {
      await admin.disconnect();
    }

    // The first request after the deletion is queued (the producer still knows the topic)
    // and refused by the broker: the delivery report answers it. Before the fix, a waiting
    // caller heard nothing until its whole wait (here over a minute) had passed.
    for (const query of [{ timeoutMs: 60_000 }, { wait: 'false' }]) {
      const t0 = Date.now();
      const refused = await restCall(gw.adminPort, stationId, 'ChangeAvailability', payload, { token: TOKEN, query, timeoutMs: 60_000 });
      const took = Date.now() - t0;
      t.diagnostic(`${JSON.stringify(query)}: HTTP ${refused.status} after ${took} ms: ${refused.text.trim()}`);
      assert.equal(refused.status, 503, `${JSON.stringify(query)}: ${refused.text}`);
      assert.match(refused.body.error, /could not be written to Kafka/);
      assert.equal(typeof refused.body.commandId, 'string');
      // Bounded by the delivery timeout (plus metadata refresh), far below the result wait.
      assert.ok(took < DELIVERY_TIMEOUT_MS + 10_000, `${JSON.stringify(query)}: answered after ${took} ms`);
    }
    assert.ok(gw.running, 'the gateway is still running');
  }));
});
