// Tenants: one gateway fleet serving several operators (or regions) without mixing their data.
// A station's tenant is in its URL (/ocpp/{tenant}/{stationId}); everything of a tenant is on
// the topics named with its prefix: its events, connections, registry, commands and results.
// The same identity in two tenants is two stations: each is let in by its own tenant's
// registry (security profile 1 here, with a different password in each), neither replaces
// the other, and a command for one never reaches the other. A tenant may have a Kafka cluster
// of its own (a private broker here): its topics, records and commands are there.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { RPCClient } from 'ocpp-rpc';

import { startGateway, uniqueStationId, withGatewayLog, randomHex, httpGet, GATEWAY_BIN, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { TopicReader } from '../lib/kafka.mjs';
import { CommandClient, restCall, restGet, assertResult } from '../lib/commands.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { PrivateBroker } from '../lib/broker.mjs';
import { tryConnect, answerWithin, hashPassword } from '../lib/security.mjs';

const tag = randomHex(4);
const PREFIX = { north: `it-ten-${tag}.north.`, south: `it-ten-${tag}.south.`, small: `it-ten-${tag}.small.` };
const topicOf = (tenant, name) => `${PREFIX[tenant]}ocpp.${name}`;
// How long a registry record may take to reach the gateway (it follows the topic live).
const APPLY_TIMEOUT_MS = 10_000;
// Ask mode: how long a token question waits for the operator's decision.
const ASK_DEADLINE_MS = 3_000;

/** A 1.6 station of `tenant` (strict both ways) that answers every CALL from the gateway. */
async function openStation(port, tenant, identity, password) {
  const client = new RPCClient({
    endpoint: `ws://127.0.0.1:${port}/ocpp/${tenant}`, identity, password,
    protocols: ['ocpp1.6'], strictMode: true, reconnect: false, callTimeoutMs: 15_000,
  });
  client.calls = [];
  client.handle(({ method, params }) => {
    client.calls.push({ method, params });
    return { status: 'Accepted' };
  });
  client.closedWith = null;
  client.on('close', (info) => { client.closedWith = info; });
  await client.connect();
  return client;
}

const eventually = (attempt, want) => answerWithin(attempt, want, APPLY_TIMEOUT_MS);
/** tryConnect to `path` (the tenant's: `/ocpp/{tenant}`). */
const tryConnectAt = (port, path, identity, password) => tryConnect(port, identity, password, path);

function metric(text, name, labels) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('tenants kept apart', () => {
  let gw;
  let dir;
  let producer;
  let admin;
  let reader;
  let baseFrom;
  const id = uniqueStationId('ITTEN');
  const small = [uniqueStationId('ITSMALL'), uniqueStationId('ITSMALL')];
  const otherNorth = uniqueStationId('ITNORTH');
  const password = { north: `north-${id}-0123456789`, south: `south-${id}-0123456789`, small: `small-${id}-0123456789` };
  const stations = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ocpp-tenants-'));
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, [
      `tenants: ["north:${PREFIX.north}", "south:${PREFIX.south}", "small:${PREFIX.small}:1"]`,
      'commands:',
      `  group: it-ten-${tag}`,
      'reply:',
      '  authorize:',
      '    ask: unknown',
      `    ask_deadline_ms: ${ASK_DEADLINE_MS}`,
      '',
    ].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', configFile, '--security-profile', '1'] });
    const kafka = new Kafka({ clientId: 'ocpp-interop-tenants', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
    admin = kafka.admin();
    await admin.connect();
    reader = await new TopicReader().connect();
    baseFrom = await reader.snapshot(['ocpp.status', 'ocpp.connections']);
    const hashes = Object.fromEntries(Object.entries(password).map(([t, p]) => [t, hashPassword(p)]));
    const record = (stationId, tenant) => ({ key: stationId, value: JSON.stringify({ stationId, passwordHash: hashes[tenant] }) });
    await producer.send({ topic: topicOf('north', 'stations'), messages: [record(id, 'north'), record(otherNorth, 'north')] });
    await producer.send({ topic: topicOf('south', 'stations'), messages: [record(id, 'south')] });
    await producer.send({ topic: topicOf('small', 'stations'), messages: small.map((s) => record(s, 'small')) });
  });

  after(async () => {
    await Promise.all(stations.map((s) => s.close({ force: true }).catch(() => {})));
    try {
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
      await producer?.disconnect();
      if (admin) {
        const mine = (await admin.listTopics().catch(() => [])).filter((t) => t.startsWith(`it-ten-${tag}.`));
        if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10_000 }).catch(() => {});
        await admin.disconnect();
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the gateway made every topic of each tenant, with its prefix', logOnFailure(async () => {
    const existing = new Set(await admin.listTopics());
    for (const tenant of Object.keys(PREFIX)) {
      for (const name of ['transactions', 'status', 'connections', 'commands', 'command-results', 'presence', 'stations', 'id-tokens', 'transaction-ids']) {
        assert.ok(existing.has(topicOf(tenant, name)), `${topicOf(tenant, name)} exists`);
      }
    }
  }));

  test('each tenant lets the identity in with its own registry entry only', logOnFailure(async () => {
    assert.equal(await eventually(() => tryConnectAt(gw.port, '/ocpp/north', id, password.north), 'ok'), 'ok');
    assert.equal(await eventually(() => tryConnectAt(gw.port, '/ocpp/south', id, password.south), 'ok'), 'ok');
    assert.match(await tryConnectAt(gw.port, '/ocpp/north', id, password.south), /Unauthorized/);
    assert.match(await tryConnectAt(gw.port, '/ocpp/south', id, password.north), /Unauthorized/);
    assert.match(await tryConnectAt(gw.port, '/ocpp/west', id, password.north), /Not Found/, 'unknown tenant');
    assert.match(await tryConnectAt(gw.port, '/ocpp', id, password.north), /Not Found/, 'no tenant in the URL');
  }));

  test('the same identity in two tenants: two stations, each on its own topics', logOnFailure(async () => {
    const from = await reader.snapshot([topicOf('north', 'status'), topicOf('south', 'status'),
      topicOf('north', 'connections'), topicOf('south', 'connections')]);
    const north = await openStation(gw.port, 'north', id, password.north);
    stations.push(north);
    await north.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'North-1' });
    const south = await openStation(gw.port, 'south', id, password.south);
    stations.push(south);
    await south.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'South-1' });
    await south.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Charging' });
    // The north session was not replaced by the south one: it still answers.
    await north.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    assert.equal(north.closedWith, null, 'north station closed');
    assert.equal(south.closedWith, null, 'south station closed');

    const statusOf = async (tenant) => {
      const isStatus = (r) => r.value?.action === 'StatusNotification';
      const { records } = await reader.waitFor([topicOf(tenant, 'status')], (recs) => recs.some(isStatus),
        { from, key: id, timeoutMs: 15_000, what: `${tenant} StatusNotification` });
      return records.filter(isStatus);
    };
    const [northStatus, southStatus] = [await statusOf('north'), await statusOf('south')];
    assert.deepEqual(northStatus.map((r) => r.value.payload.status), ['Available']);
    assert.deepEqual(southStatus.map((r) => r.value.payload.status), ['Charging']);
    for (const r of [...northStatus, ...southStatus]) {
      assertSchema('stationEvent', r.value);
      assert.equal(r.value.stationId, id, 'stationId is the identity the station connected with');
    }
    assert.notEqual(northStatus[0].value.sessionId, southStatus[0].value.sessionId);

    const connectedOf = async (tenant) => (await reader.readToEnd([topicOf(tenant, 'connections')], { from, key: id }))
      .filter((r) => r.value?.type === 'Connected');
    assert.deepEqual((await connectedOf('north')).map((r) => r.value.sessionId), [northStatus[0].value.sessionId]);
    assert.deepEqual((await connectedOf('south')).map((r) => r.value.sessionId), [southStatus[0].value.sessionId]);
    // Nothing of either tenant on the gateway's own (unprefixed) topics.
    assert.deepEqual(await reader.readToEnd(['ocpp.status', 'ocpp.connections'], { from: baseFrom, key: id }), []);
  }));

  test('a command on a tenant\'s topic reaches only that tenant\'s station; REST is per tenant', logOnFailure(async () => {
    const [north, south] = stations;
    const commands = new CommandClient({ topics: { commands: topicOf('north', 'commands'), results: topicOf('north', 'command-results') } });
    await commands.start();
    try {
      const commandId = await commands.send({ stationId: id, action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Inoperative' } });
      const result = await commands.waitResult(commandId, { timeoutMs: 30_000 });
      assertResult(result, { commandId, stationId: id, action: 'ChangeAvailability', status: 'Completed', response: { status: 'Accepted' } });
    } finally {
      await commands.stop();
    }
    assert.deepEqual(north.calls.map((c) => c.method), ['ChangeAvailability']);
    assert.deepEqual(south.calls, [], 'the south station got a north command');

    const fromResults = await reader.snapshot([topicOf('south', 'command-results'), topicOf('north', 'command-results')]);
    const rest = await restCall(gw.adminPort, id, 'ChangeAvailability', { connectorId: 0, type: 'Operative' },
      { base: '/v1/tenants/south', timeoutMs: 30_000 });
    assert.equal(rest.status, 200, rest.text);
    assertResult(rest.body, { stationId: id, action: 'ChangeAvailability', status: 'Completed' });
    assert.deepEqual(south.calls.map((c) => c.params.type), ['Operative']);
    assert.equal(north.calls.length, 1, 'the north station got a south command');
    const southResults = await reader.readToEnd([topicOf('south', 'command-results')], { from: fromResults, key: id });
    assert.deepEqual(southResults.map((r) => r.value.commandId), [rest.body.commandId]);
    assert.deepEqual(await reader.readToEnd([topicOf('north', 'command-results')], { from: fromResults, key: id }), []);

    const untenanted = await restGet(gw.adminPort, `/v1/stations/${id}`);
    assert.equal(untenanted.status, 404);
    assert.match(untenanted.body.error, /\/v1\/tenants\/\{tenant\}\/stations/);
    const unknown = await restGet(gw.adminPort, `/v1/tenants/west/stations/${id}`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /unknown tenant "west"/);
    const view = await restGet(gw.adminPort, `/v1/tenants/north/stations/${id}`);
    assert.equal(view.status, 200, view.text);
    assert.equal(view.body.connected, true);
  }));

  test('a token question is answered by a decision on its own tenant\'s topic only', logOnFailure(async () => {
    const [north] = stations;
    const requests = topicOf('north', 'authorization-requests');
    const ask = async (token) => {
      const from = await reader.snapshot([requests]);
      const started = Date.now();
      const answer = north.call('Authorize', { idTag: token });
      const { result } = await reader.waitFor([requests], (recs) => recs.find((r) => r.value?.idToken?.idToken === token),
        { from, timeoutMs: ASK_DEADLINE_MS, what: `the question on ${token}` });
      assertSchema('authorizationRequest', result.value);
      return { requestId: result.value.requestId, answer, started };
    };
    const decide = (tenant, requestId, status) => producer.send({ topic: topicOf(tenant, 'authorization-decisions'), acks: -1,
      messages: [{ key: requestId, value: JSON.stringify({ requestId, status }) }] });

    // Written on south's topic, a decision on north's question is none: the deadline passes
    // and north's policy for unknown tokens answers.
    const foreign = await ask(`TENASK1${tag}`);
    await decide('south', foreign.requestId, 'Accepted');
    assert.equal((await foreign.answer).idTagInfo.status, 'Invalid', 'a decision on the south topic answered a north question');
    assert.ok(Date.now() - foreign.started >= ASK_DEADLINE_MS - 50, 'answered before the deadline');
    // On north's own topic it is the answer, well before the deadline.
    const own = await ask(`TENASK2${tag}`);
    await decide('north', own.requestId, 'Blocked');
    assert.equal((await own.answer).idTagInfo.status, 'Blocked');
    assert.ok(Date.now() - own.started < ASK_DEADLINE_MS, 'the decision came after the deadline');
  }));

  test('a tenant\'s station limit refuses its next station with 503, and /metrics counts per tenant', logOnFailure(async () => {
    // Once the registry record is applied the station is let in.
    let first;
    const deadline = Date.now() + APPLY_TIMEOUT_MS;
    while (!first) {
      try {
        first = await openStation(gw.port, 'small', small[0], password.small);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));  // poll interval between connection attempts
      }
    }
    stations.push(first);
    assert.match(await tryConnectAt(gw.port, '/ocpp/small', small[1], password.small), /Service Unavailable/);
    // Other tenants are not held to it.
    assert.equal(await tryConnectAt(gw.port, '/ocpp/north', otherNorth, password.north), 'ok');
    await first.close();
    assert.equal(await eventually(() => tryConnectAt(gw.port, '/ocpp/small', small[1], password.small), 'ok'), 'ok');

    // Once the short-lived connections above are closed: the north and south stations of
    // this file are open, nothing of small.
    const open = (text) => ['north', 'south', 'small'].map((t) => metric(text, 'ocpp_tenant_stations', `tenant="${t}"`)).join(',');
    let text = '';
    for (const deadline2 = Date.now() + 10_000; ;) {
      text = (await httpGet(`http://127.0.0.1:${gw.adminPort}/metrics`)).text;
      if (open(text) === '1,1,0' || Date.now() > deadline2) break;
      await new Promise((r) => setTimeout(r, 100));  // closes are only observable by asking again
    }
    assert.equal(open(text), '1,1,0', 'stations open in north, south, small');
    assert.ok(metric(text, 'ocpp_tenant_handshakes_refused_total', 'tenant="small"') >= 1, 'small refusals');
    assert.ok(metric(text, 'ocpp_tenant_handshakes_refused_total', 'tenant="north"') >= 1, 'north refusals (wrong password)');
    assert.ok(metric(text, 'ocpp_tenant_connections_total', 'tenant="south"') >= 2, 'south connections');
    assert.ok(metric(text, 'ocpp_tenant_messages_received_total', 'tenant="north"') >= 3, 'north messages');
  }));
});

describe('a tenant on a Kafka cluster of its own', () => {
  let broker;
  let gw;
  let dir;
  let configFile;
  let sharedAdmin;
  let ownAdmin;
  let ownReader;
  const own = `it-ten-${tag}.away.`;
  const home = `it-ten-${tag}.home.`;
  const id = uniqueStationId('ITAWAY');
  const stations = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    broker = await PrivateBroker.create('ocpp-interop-tenant-kafka-');
    await broker.start();
    dir = mkdtempSync(join(tmpdir(), 'ocpp-tenants-own-'));
    configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, [
      `tenants: ["home:${home}", "away:${own}"]`,
      'tenant_kafka:',
      `  brokers: {away: "${broker.brokers}"}`,
      'commands:',
      `  group: it-ten-own-${tag}`,
      '',
    ].join('\n'));
    gw = await startGateway({ extraArgs: ['--config', configFile] });
    sharedAdmin = new Kafka({ clientId: 'ocpp-interop-tenants', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
    await sharedAdmin.connect();
    ownAdmin = new Kafka({ clientId: 'ocpp-interop-tenants', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).admin();
    await ownAdmin.connect();
    ownReader = await new TopicReader({ brokers: broker.brokers }).connect();
  });

  after(async () => {
    await Promise.all(stations.map((s) => s.close({ force: true }).catch(() => {})));
    try {
      if (gw) await gw.stop();
    } finally {
      await ownReader?.close();
      await ownAdmin?.disconnect();
      if (sharedAdmin) {
        const mine = (await sharedAdmin.listTopics().catch(() => [])).filter((t) => t.startsWith(home));
        if (mine.length) await sharedAdmin.deleteTopics({ topics: mine, timeout: 10_000 }).catch(() => {});
        await sharedAdmin.disconnect();
      }
      await broker?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  test('its topics are on its cluster only, the other tenant\'s on the gateway\'s', logOnFailure(async () => {
    const onShared = await sharedAdmin.listTopics();
    const onOwn = await ownAdmin.listTopics();
    assert.ok(onOwn.includes(`${own}ocpp.transactions`) && onOwn.includes(`${own}ocpp.commands`), 'away topics on its cluster');
    assert.deepEqual(onShared.filter((t) => t.startsWith(own)), [], 'away topics on the shared cluster');
    assert.ok(onShared.includes(`${home}ocpp.transactions`), 'home topics on the shared cluster');
    assert.deepEqual(onOwn.filter((t) => t.startsWith(home) || t.startsWith('ocpp.')), [], 'other topics on the away cluster');
  }));

  test('its station\'s events are answered after its cluster took them, and its commands come from there', logOnFailure(async () => {
    const from = await ownReader.snapshot([`${own}ocpp.status`]);
    const station = await openStation(gw.port, 'away', id, undefined);
    stations.push(station);
    await station.call('BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'Away-1' });
    await station.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available' });
    const { records } = await ownReader.waitFor([`${own}ocpp.status`], (recs) => recs.some((r) => r.value?.action === 'StatusNotification'),
      { from, key: id, timeoutMs: 15_000, what: 'away StatusNotification on its own cluster' });
    assertSchema('stationEvent', records.find((r) => r.value?.action === 'StatusNotification').value);

    const commands = new CommandClient({ brokers: broker.brokers, topics: { commands: `${own}ocpp.commands`, results: `${own}ocpp.command-results` } });
    await commands.start();
    try {
      const commandId = await commands.send({ stationId: id, action: 'ChangeAvailability', payload: { connectorId: 0, type: 'Inoperative' } });
      assertResult(await commands.waitResult(commandId, { timeoutMs: 30_000 }),
        { commandId, stationId: id, action: 'ChangeAvailability', status: 'Completed', response: { status: 'Accepted' } });
    } finally {
      await commands.stop();
    }
    assert.deepEqual(station.calls.map((c) => c.method), ['ChangeAvailability']);

    const text = (await httpGet(`http://127.0.0.1:${gw.adminPort}/metrics`)).text;
    assert.equal(metric(text, 'ocpp_tenant_kafka_reachable', 'tenant="away"'), 1);
  }));

  test('`topics check` holds both clusters to the contract', logOnFailure(async () => {
    const run = await new Promise((resolve) => {
      execFile(GATEWAY_BIN, ['topics', 'check', '--config', configFile, '--kafka-brokers', KAFKA_BROKERS],
        { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`Kafka at ${KAFKA_BROKERS}:`));
    assert.match(run.stdout, new RegExp(`Kafka at ${broker.brokers} \\(tenant away\\):`));
    assert.equal((run.stdout.match(/topics meet the contract/g) ?? []).length, 2);
  }));
});
