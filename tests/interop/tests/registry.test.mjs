// The station registry from Kafka: records on the compacted ocpp.stations topic let stations
// in (or keep them out) while the gateway runs, with passwords stored only as hashes made by
// `ocpp-gateway hash-password`. Security profile 1 (HTTP Basic over ws://).

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import WebSocket from 'ws';

import { startGateway, uniqueStationId, withGatewayLog, GATEWAY_BIN, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { tryConnect, answerWithin, writeRegistry } from '../lib/security.mjs';
import { restCall, waitPresence } from '../lib/commands.mjs';

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

/**
 * A 1.6 WebSocket station on `gw` that counts the gateway's pings (`autoPong` false: it never
 * answers them) and records how it was closed.
 */
function rawStation(gw, id, { autoPong = true } = {}) {
  const ws = new WebSocket(gw.wsUrl(id), ['ocpp1.6'], { autoPong });
  const s = { ws, pings: 0, closed: null };
  ws.on('ping', () => { s.pings += 1; });
  s.opened = new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('unexpected-response', (_, res) => reject(new Error(`HTTP ${res.statusCode}`))); ws.once('error', reject); });
  s.closing = new Promise((resolve) => ws.once('close', (code, reason) => { s.closed = { code, reason: reason.toString(), at: Date.now() }; resolve(s.closed); }));
  return s;
}

// Per-station keep-alive from the registry (here its file; the topic's pingInterval and
// pongTimeout are read the same way, unit-tested): a station that cannot answer pings gets
// none, one behind a NAT that drops idle sockets gets them often, the rest the configured ones.
describe('station keep-alive from the registry', () => {
  let gw;
  let dir;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);
  const quiet = uniqueStationId('ITKAQ');
  const fast = uniqueStationId('ITKAF');
  const plain = uniqueStationId('ITKAP');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-keepalive-'));
    const registry = writeRegistry(join(dir, 'stations.yaml'), [
      { id: quiet, pingIntervalS: 0 },
      { id: fast, pingIntervalS: 1, pongTimeoutMs: 300 },
      { id: plain },
    ]);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'limits:\n  ping_interval_s: 2\n  pong_timeout_ms: 1000\n');
    gw = await startGateway({ extraArgs: ['--config', config, '--stations-file', registry] });
  });

  after(async () => {
    if (gw) await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const station = (id, options) => rawStation(gw, id, options);

  test('no pings, frequent pings with a short pong timeout, and the defaults, side by side', logOnFailure(async () => {
    const q = station(quiet);
    const p = station(plain);
    const f = station(fast, { autoPong: false });
    await Promise.all([q.opened, p.opened, f.opened]);
    const opened = Date.now();
    // The silent one is cut after its first unanswered ping: 1 s interval + 0.3 s for the pong.
    const cut = await Promise.race([f.closing, new Promise((resolve) => setTimeout(() => resolve(null), 5_000))]);
    assert.ok(cut, 'the station that does not answer pings was not closed within 5 s');
    assert.equal(cut.code, 1001, `close ${cut.code} ${cut.reason}`);
    assert.ok(f.pings >= 1, 'closed without having been pinged');
    assert.ok(cut.at - opened < 3_000, `closed ${cut.at - opened} ms after opening: not its own 1 s / 0.3 s keep-alive`);
    // Past the configured 2 s interval: the plain station has been pinged, the quiet one not.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, opened + 3_500 - Date.now())));
    assert.equal(q.pings, 0, 'the station with ping_interval_s 0 was pinged');
    assert.ok(p.pings >= 1, 'the station without an override was not pinged at the configured interval');
    assert.equal(q.closed, null, 'the unpinged station was closed');
    assert.equal(p.closed, null, 'the station answering pings was closed');
    q.ws.close();
    p.ws.close();
    await Promise.all([q.closing, p.closing]);
  }));
});

// Without pings, a station is heard at its heartbeats: the idle timeout never closes one that
// keeps the heartbeat interval its registry entry gives it (at least one and a half of it is
// waited for), and still closes one that is silent for longer.
describe('idle timeout and a station\'s own heartbeat interval', () => {
  let gw;
  let dir;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);
  const slow = uniqueStationId('ITIDS');   // told 4 s: idle after 6 s
  const brisk = uniqueStationId('ITIDB');  // told 1 s: idle after the configured 3 s
  const agreeing = uniqueStationId('ITIDC');  // told 1 s, then agrees to 4 s on a command

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-idle-'));
    const registry = writeRegistry(join(dir, 'stations.yaml'), [
      { id: slow, pingIntervalS: 0, heartbeatIntervalS: 4 },
      { id: brisk, pingIntervalS: 0, heartbeatIntervalS: 1 },
      { id: agreeing, pingIntervalS: 0, heartbeatIntervalS: 1 },
    ]);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, 'limits:\n  idle_timeout_s: 3\n');
    gw = await startGateway({ extraArgs: ['--config', config, '--stations-file', registry] });
  });

  after(async () => {
    if (gw) await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const station = (id) => rawStation(gw, id);

  test('a station silent for less than one and a half of its interval stays; one silent past the idle timeout is closed', logOnFailure(async () => {
    const s = station(slow);
    const b = station(brisk);
    await Promise.all([s.opened, b.opened]);
    const opened = Date.now();
    const cut = await Promise.race([b.closing, new Promise((resolve) => setTimeout(() => resolve(null), 8_000))]);
    assert.ok(cut, 'the station told 1 s, silent, was not closed within 8 s (idle timeout 3 s)');
    assert.equal(cut.code, 1001, `close ${cut.code} ${cut.reason}`);
    assert.match(cut.reason, /idle timeout/);
    assert.ok(cut.at - opened >= 2_900, `closed after ${cut.at - opened} ms, before the idle timeout`);
    // Silent as long as its interval and a little more: past the configured idle timeout,
    // within one and a half of its 4 s.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, opened + 4_800 - Date.now())));
    assert.equal(s.closed, null, `the station told 4 s was closed after ${s.closed && s.closed.at - opened} ms of silence`);
    const heard = Date.now();
    s.ws.send(JSON.stringify([2, 'hb-1', 'Heartbeat', {}]));
    const answer = await new Promise((resolve) => s.ws.once('message', (m) => resolve(JSON.parse(m.toString()))));
    assert.equal(answer[0], 3, `Heartbeat answered ${JSON.stringify(answer)}`);
    // Silent from now on: closed once the silence is one and a half of its 4 s.
    const closed = await Promise.race([s.closing, new Promise((resolve) => setTimeout(() => resolve(null), 10_000))]);
    assert.ok(closed, 'the station told 4 s was not closed within 10 s of silence');
    assert.match(closed.reason, /idle timeout/);
    assert.ok(closed.at - heard >= 5_800 && closed.at - heard < 8_000, `closed ${closed.at - heard} ms after it was last heard, not about 6 s`);
  }));

  test('a station that agrees to a longer interval in an operator\'s ChangeConfiguration is given one and a half of it', logOnFailure(async () => {
    const c = station(agreeing);
    c.ws.on('message', (m) => {
      const frame = JSON.parse(m.toString());
      if (frame[0] === 2 && frame[2] === 'ChangeConfiguration') c.ws.send(JSON.stringify([3, frame[1], { status: 'Accepted' }]));
    });
    await c.opened;
    await waitPresence(gw.adminPort, agreeing);
    const res = await restCall(gw.adminPort, agreeing, 'ChangeConfiguration', { key: 'HeartbeatInterval', value: '4' }, { query: { timeoutMs: 5_000 }, timeoutMs: 10_000 });
    assert.equal(res.status, 200, `REST status; body ${res.text}`);
    assert.equal(res.body?.response?.status, 'Accepted', `result ${res.text}`);
    // The station's answer was the last it was heard; the result came after it.
    const heard = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 4_800));
    assert.equal(c.closed, null, `the station that agreed to 4 s was closed after ${c.closed && c.closed.at - heard} ms of silence`);
    const closed = await Promise.race([c.closing, new Promise((resolve) => setTimeout(() => resolve(null), 10_000))]);
    assert.ok(closed, 'the station that agreed to 4 s was not closed within 15 s of silence');
    assert.match(closed.reason, /idle timeout/);
    assert.ok(closed.at - heard >= 5_500 && closed.at - heard < 8_000, `closed ${closed.at - heard} ms after it was last heard, not about 6 s`);
  }));
});

