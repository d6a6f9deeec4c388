// The station registry from Kafka: records on the compacted ocpp.stations topic let stations
// in (or keep them out) while the gateway runs, with passwords stored only as hashes made by
// `ocpp-gateway hash-password`. Security profile 1 (HTTP Basic over ws://).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';

import { startGateway, uniqueStationId, withGatewayLog, GATEWAY_BIN, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { tryConnect, answerWithin } from '../lib/security.mjs';

const STATIONS_TOPIC = 'ocpp.stations';
const SECURITY_TOPIC = TOPICS.security ?? 'ocpp.security';
// How long a registry record may take to reach the gateway (it follows the topic live).
const APPLY_TIMEOUT_MS = 10_000;

function hashPassword(password) {
  const run = spawnSync(GATEWAY_BIN, ['hash-password', '--iterations', '2000'], { input: `${password}\n`, encoding: 'utf8' });
  assert.equal(run.status, 0, `hash-password failed: ${run.stderr}`);
  const hash = run.stdout.trim();
  assert.match(hash, /^pbkdf2-sha256\$2000\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  assert.ok(!hash.includes(password), 'the hash contains the password');
  return hash;
}

const eventually = (attempt, want) => answerWithin(attempt, want, APPLY_TIMEOUT_MS);

describe('station registry on Kafka (security profile 1)', () => {
  let gw;
  let producer;
  let reader;
  let from;
  let connectionsFrom;
  const id = uniqueStationId('ITREG');
  const password = `pw-${id}-0123456789`;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    const kafka = new Kafka({ clientId: 'ocpp-interop-registry', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
    gw = await startGateway({ extraArgs: ['--security-profile', '1'] });
    reader = await new TopicReader().connect();
    from = await reader.snapshot([SECURITY_TOPIC]);
    connectionsFrom = await reader.snapshot([TOPICS.connections]);
  });

  after(async () => {
    try {
      await producer?.send({ topic: STATIONS_TOPIC, messages: [{ key: id, value: null }] });
      await producer?.disconnect();
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
    }
  });

  test('an identity unknown to the registry gets 404, without a password check', logOnFailure(async () => {
    assert.match(await tryConnect(gw.port, id, password), /Not Found/);
  }));

  test('a record on ocpp.stations lets the station in with its password, not with another', logOnFailure(async () => {
    await producer.send({ topic: STATIONS_TOPIC, messages: [{ key: id, value: JSON.stringify({ stationId: id, passwordHash: hashPassword(password) }) }] });
    assert.equal(await eventually(() => tryConnect(gw.port, id, password), 'ok'), 'ok');
    assert.match(await tryConnect(gw.port, id, `${password}x`), /Unauthorized/);
    // The connection record names the listener's security profile.
    const { records } = await reader.waitFor([TOPICS.connections], (recs) => recs.some((r) => r.value?.type === 'Connected'),
      { from: connectionsFrom, key: id, timeoutMs: 10_000, what: 'Connected record' });
    const connected = records.find((r) => r.value?.type === 'Connected');
    assertSchema('connectionEvent', connected.value);
    assert.equal(connected.value.securityProfile, 1);
  }));

  test('a changed hash applies to the next connection', logOnFailure(async () => {
    const next = `${password}-rotated`;
    await producer.send({ topic: STATIONS_TOPIC, messages: [{ key: id, value: JSON.stringify({ stationId: id, passwordHash: hashPassword(next) }) }] });
    assert.equal(await eventually(() => tryConnect(gw.port, id, next), 'ok'), 'ok');
    assert.match(await tryConnect(gw.port, id, password), /Unauthorized/);
  }));

  test('disabled, then removed by a tombstone: 404 again', logOnFailure(async () => {
    await producer.send({ topic: STATIONS_TOPIC, messages: [{ key: id, value: JSON.stringify({ stationId: id, enabled: false }) }] });
    assert.match(await eventually(async () => ((await tryConnect(gw.port, id, password)).includes('Not Found') ? 'gone' : 'still'), 'gone'), /gone/);
    await producer.send({ topic: STATIONS_TOPIC, messages: [{ key: id, value: null }] });
    assert.match(await tryConnect(gw.port, id, password), /Not Found/);
  }));

  test('each refusal is a gateway security event on ocpp.security', logOnFailure(async () => {
    const { records } = await reader.waitFor([SECURITY_TOPIC],
      (recs) => recs.filter((r) => r.value?.source === 'gateway').length >= 3,
      { from, key: id, timeoutMs: 15_000, what: 'gateway security events' });
    const events = records.filter((r) => r.value?.source === 'gateway').map((r) => r.value);
    for (const e of events) {
      assertSchema('securityEvent', e);
      assert.equal(e.stationId, id);
      assert.equal(e.address, '127.0.0.1');
      assert.equal(e.gatewayId, gw.gatewayId);
      assert.ok(!JSON.stringify(e).includes(password), 'a security event contains the password');
    }
    const types = events.map((e) => e.type);
    assert.ok(types.includes('UnknownStation'), `types: ${types}`);
    assert.ok(types.includes('AuthFailed'), `types: ${types}`);
  }));
});
