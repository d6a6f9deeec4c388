// SIGTERM while Kafka is unreachable: the drain still ends.
//
// The gateway runs against a broker of its own with drain_timeout_s 5. A
// station is connected; the broker is stopped; the station sends a CALL that
// Kafka can no longer acknowledge; then SIGTERM. The gateway must exit 0
// within the drain timeout plus its fixed closing steps (sessions closed 5 s,
// consumer group left and producer flushed within what is left of the
// deadline, at least a second each), never answer the CALL with a success,
// and close the station with 1001.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rpc from 'ocpp-rpc';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { PrivateBroker } from '../lib/broker.mjs';

const { RPCClient } = rpc;

const DRAIN_TIMEOUT_S = 5;
// Drain timeout + closing the sessions (5 s) + leaving the group and flushing (at least 1 s
// each) + process exit; anything near librdkafka's unbounded consumer close fails.
const EXIT_BOUND_MS = (DRAIN_TIMEOUT_S + 5 + 2 + 3) * 1000;

describe('SIGTERM while Kafka is unreachable', () => {
  let broker;
  let gw;
  let dir;
  let station;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    broker = await PrivateBroker.create();
    await broker.start();
    dir = mkdtempSync(join(tmpdir(), 'ocpp-drain-down-'));
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `drain_timeout_s: ${DRAIN_TIMEOUT_S}\n`);
    gw = await startGateway({
      brokers: broker.brokers,
      extraArgs: ['--config', config, '--kafka-property', 'message.timeout.ms=60000'],
    });
  });

  after(async () => {
    await station?.close({ force: true }).catch(() => {});
    if (gw?.running) gw.kill();
    await broker?.destroy().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the gateway exits 0 within its drain bound, the station gets no success and 1001', logOnFailure(async (t) => {
    station = new RPCClient({
      endpoint: `ws://127.0.0.1:${gw.port}/ocpp`,
      identity: uniqueStationId('ITDOWN'),
      protocols: ['ocpp1.6'],
      strictMode: true,
      reconnect: false,
      callTimeoutMs: 60_000,
      pingIntervalMs: 0,
    });
    const closed = new Promise((resolve) => station.once('close', resolve));
    await station.connect();
    await station.call('Heartbeat', {});   // served while Kafka is up

    await broker.stop();
    // A CALL that Kafka can no longer acknowledge (message.timeout.ms is a minute).
    const pending = station.call('MeterValues', {
      connectorId: 1,
      meterValue: [{ timestamp: new Date().toISOString(), sampledValue: [{ value: '42' }] }],
    }).then((r) => ({ result: r }), (e) => ({ error: e }));
    // The CALL has reached the gateway once it is counted in flight.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`).then((x) => x.text()).catch(() => '');
      if (/^ocpp_calls_in_flight 1$/m.test(r)) break;
      assert.ok(Date.now() < deadline, 'the MeterValues never counted in flight');
      await new Promise((res) => setTimeout(res, 50));
    }

    const t0 = Date.now();
    const info = await gw.stop(EXIT_BOUND_MS);
    const ms = Date.now() - t0;
    t.diagnostic(`exited ${JSON.stringify(info)} ${ms} ms after SIGTERM (bound ${EXIT_BOUND_MS} ms)`);
    assert.equal(info.code, 0);
    assert.ok(ms >= DRAIN_TIMEOUT_S * 1000 - 500, `exited after ${ms} ms: before the drain timeout, with a CALL unanswered`);

    const outcome = await pending;
    assert.ok(!outcome.result, `a success for a record Kafka never acknowledged: ${JSON.stringify(outcome.result)}`);
    const closeInfo = await closed;
    assert.equal(closeInfo.code, 1001, `close ${JSON.stringify(closeInfo)}`);
  }));
});
