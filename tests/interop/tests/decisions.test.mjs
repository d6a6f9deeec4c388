// The operator's decisions over the wire (README "Authorization and boot decisions"): tokens
// answered from the compacted topic ocpp.id-tokens on every instance, unknown tokens by each
// instance's policy, unusable records skipped; boots answered from the station registry.
// Stations are ocpp-rpc clients in strict mode, so every reply is checked against the official
// response schema as well.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';

import { startGateway, startGatewayWithConfig, httpGet, randomHex, uniqueStationId, KAFKA_BROKERS } from '../lib/gateway.mjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  connectStation, closeStations, CommandClient, isolatedCommands, assertResult, waitPresence, nextCall,
} from '../lib/commands.mjs';
import { TopicReader, TOPICS, createTopicsServed } from '../lib/kafka.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { metricValue } from '../lib/monitor.mjs';
import { eventually } from '../lib/until.mjs';
import { RawStation } from '../lib/raw-station.mjs';

const TOKENS_TOPIC = 'ocpp.id-tokens';
// The promise: a record written by the back office is applied by every instance
// within a second.
const APPLY_WITHIN_MS = 1_000;

describe('operator decisions: the token table on Kafka', () => {
  let gwA;
  let gwB;
  let producer;
  let reader;
  const stations = [];
  const tag = randomHex(4).toUpperCase();
  const token = (name) => `${name}${tag}`;  // unique per run: the topic keeps earlier runs' records

  const put = async (key, value) => {
    if (value !== null) assertSchema('idToken', value, `token record ${key}`);
    await producer.send({ topic: TOKENS_TOPIC, acks: -1, messages: [{ key, value: value === null ? null : JSON.stringify(value) }] });
  };
  const auth16 = async (client, idTag) => (await client.call('Authorize', { idTag })).idTagInfo;
  const auth201 = async (client, idToken, type = 'ISO14443') =>
    (await client.call('Authorize', { idToken: { idToken, type } })).idTokenInfo;
  const metrics = async (gw) => (await httpGet(gw.adminUrl('/metrics'))).text;

  before(async () => {
    const kafka = new Kafka({ clientId: 'ocpp-interop-decisions', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
    gwA = await startGateway();
    gwB = await startGateway({ extraArgs: ['--unknown-tokens', 'Accepted'] });
    reader = await new TopicReader().connect();
  });

  after(async () => {
    await closeStations(stations);
    await Promise.all([gwA?.stop(), gwB?.stop()]);
    await producer?.disconnect();
    await reader?.close();
  });

  const station = async (gw, protocol) => {
    const client = await connectStation({ port: gw.port, stationId: uniqueStationId('ITDEC'), protocol });
    stations.push(client);
    return client;
  };

  test('a token blocked on the topic is refused by the other instance within a second (1.6 and 2.0.1)', async () => {
    const card = token('CARD');
    await put(card, { idToken: card, type: 'ISO14443', status: 'Accepted', groupIdToken: 'FLEET-1' });
    const a16 = await station(gwA, 'ocpp1.6');
    const b16 = await station(gwB, 'ocpp1.6');
    const b201 = await station(gwB, 'ocpp2.0.1');
    await eventually(async () => (await auth16(a16, card)).status === 'Accepted', 10_000, 'the Accepted record on gateway A');
    assert.deepEqual(await auth16(a16, card), { status: 'Accepted', parentIdTag: 'FLEET-1' });
    await eventually(async () => (await auth201(b201, card)).status === 'Accepted', 10_000, 'the Accepted record on gateway B');
    // Letter case does not matter (OCPP: IdToken is case-insensitive).
    assert.equal((await auth16(b16, card.toLowerCase())).status, 'Accepted');

    const before = await reader.snapshot([TOPICS.authorizations]);
    await put(card, { idToken: card, type: 'ISO14443', status: 'Blocked' });
    const written = Date.now();
    let answer;
    while (Date.now() - written < 5_000) {
      answer = await auth16(b16, card);
      if (answer.status === 'Blocked') break;
    }
    const took = Date.now() - written;
    console.log(`applied on gateway B after ${took} ms`);
    assert.equal(answer.status, 'Blocked', 'the Blocked record never reached gateway B');
    assert.ok(took <= APPLY_WITHIN_MS, `gateway B answered Blocked ${took} ms after the record was written`);
    assert.equal((await auth201(b201, card)).status, 'Blocked');
    assert.equal((await auth16(a16, card)).status, 'Blocked');

    // The event says where the answer came from, and validates.
    const { records } = await reader.waitFor([TOPICS.authorizations],
      (recs) => recs.some((r) => r.value?.reply?.idTagInfo?.status === 'Blocked'),
      { from: before, key: b16.identity, what: 'the Blocked Authorize event' });
    const event = records.find((r) => r.value?.reply?.idTagInfo?.status === 'Blocked').value;
    assertSchema('stationEvent', event);
    assert.deepEqual(event.decision, { kind: 'authorization', source: 'table', status: 'Blocked' });
  });

  test('an entry past expiresAt answers Expired; a typed entry only matches its type', async () => {
    const old = token('OLD');
    const emaid = token('EMAID');
    await put(old, { status: 'Accepted', expiresAt: '2020-01-01T00:00:00Z' });
    await put(emaid, { type: 'eMAID', status: 'Accepted', personalMessage: 'Welcome', language: 'en' });
    const c201 = await station(gwA, 'ocpp2.0.1');
    const c16 = await station(gwA, 'ocpp1.6');
    await eventually(async () => (await auth201(c201, emaid, 'eMAID')).status === 'Accepted', 10_000, 'the eMAID record');
    assert.deepEqual(await auth201(c201, emaid, 'eMAID'),
      { status: 'Accepted', personalMessage: { format: 'UTF8', content: 'Welcome' }, language1: 'en' });
    // The same value as an RFID card is another token: unknown here, so Invalid (gateway A's policy).
    assert.equal((await auth201(c201, emaid, 'ISO14443')).status, 'Invalid');
    await eventually(async () => (await auth16(c16, old)).status === 'Expired', 10_000, 'the expired record');
    assert.equal((await auth201(c201, old)).status, 'Expired');
  });

  test('a tombstone deletes the entry: each instance then answers by its own unknown-token policy', async () => {
    const gone = token('GONE');
    await put(gone, { status: 'Blocked' });
    const a = await station(gwA, 'ocpp1.6');
    const b = await station(gwB, 'ocpp2.0.1');
    await eventually(async () => (await auth16(a, gone)).status === 'Blocked', 10_000, 'the Blocked record on A');
    await eventually(async () => (await auth201(b, gone)).status === 'Blocked', 10_000, 'the Blocked record on B');
    await put(gone, null);
    await eventually(async () => (await auth16(a, gone)).status === 'Invalid', 10_000, 'the tombstone on A (policy Invalid)');
    await eventually(async () => (await auth201(b, gone)).status === 'Accepted', 10_000, 'the tombstone on B (policy Accepted)');
    // Never seen at all: the same policies.
    assert.equal((await auth16(a, token('NOBODY'))).status, 'Invalid');
    assert.equal((await auth201(b, token('NOBODY'))).status, 'Accepted');
    const m = await metrics(gwB);
    assert.ok(metricValue(m, 'ocpp_decisions_total', { kind: 'authorization', source: 'policy', status: 'Accepted' }) >= 2);
    assert.ok(metricValue(m, 'ocpp_decisions_total', { kind: 'authorization', source: 'table', status: 'Blocked' }) >= 1);
  });

  test('StartTransaction and TransactionEvent are answered from the table too', async () => {
    const card = token('TX');
    await put(card, { status: 'ConcurrentTx' });
    const c16 = await station(gwA, 'ocpp1.6');
    const c201 = await station(gwA, 'ocpp2.0.1');
    await eventually(async () => (await auth16(c16, card)).status === 'ConcurrentTx', 10_000, 'the ConcurrentTx record');
    const start = await c16.call('StartTransaction', { connectorId: 1, idTag: card, meterStart: 0, timestamp: new Date().toISOString() });
    assert.equal(start.idTagInfo.status, 'ConcurrentTx');
    assert.ok(Number.isInteger(start.transactionId));
    const event = await c201.call('TransactionEvent', {
      eventType: 'Started', timestamp: new Date().toISOString(), triggerReason: 'Authorized', seqNo: 0,
      transactionInfo: { transactionId: `tx-${tag}` }, idToken: { idToken: card, type: 'ISO14443' },
    });
    assert.equal(event.idTokenInfo.status, 'ConcurrentTx');
  });

  test('unusable records are skipped and counted; the table goes on', async () => {
    const card = token('BAD');
    const a = await station(gwA, 'ocpp1.6');
    await put(card, { status: 'Accepted' });
    await eventually(async () => (await auth16(a, card)).status === 'Accepted', 10_000, 'the good record');
    const skipped = async () => metricValue(await metrics(gwA), 'ocpp_id_token_records_skipped_total') ?? 0;
    const before = await skipped();
    await producer.send({ topic: TOKENS_TOPIC, acks: -1, messages: [
      { key: card, value: 'not json' },
      { key: card, value: JSON.stringify({ status: 'Maybe' }) },
      { key: card, value: JSON.stringify({ status: 'Blocked', expiresAt: 1700000000 }) },
      { key: card, value: JSON.stringify({ status: 'Blocked', idToken: 'SOMEONE-ELSE' }) },
    ] });
    await eventually(async () => (await skipped()) === before + 4, 10_000, 'four skipped records counted');
    // None of them changed the entry, and a good record after them still applies.
    assert.equal((await auth16(a, card)).status, 'Accepted');
    await put(card, { status: 'Blocked' });
    await eventually(async () => (await auth16(a, card)).status === 'Blocked', 10_000, 'the record after the bad ones');
    assert.equal(gwA.exitInfo, null, 'gateway A is still running');
    assert.match(gwA.output(), /id-token record ocpp\.id-tokens:\d+@\d+ skipped: /);
    const m = await metrics(gwA);
    assert.ok(metricValue(m, 'ocpp_id_tokens') >= 1);
    assert.ok(metricValue(m, 'ocpp_id_token_last_record_age_seconds') < 60);
  });
});

describe('operator decisions: boots from the station registry', () => {
  // Its own registry topic: a record on the shared ocpp.stations would keep every other
  // test's unregistered stations out of their gateways.
  const iso = isolatedCommands();
  const stationsTopic = `${iso.topics.commands.replace(/\.commands$/, '')}.stations`;
  let gw;
  let producer;
  let cmd;
  let reader;
  const stations = [];

  const register = (stationId, value) => {
    const entry = { stationId, ...value };
    assertSchema('stationRegistry', entry, `registry record ${stationId}`);
    return producer.send({ topic: stationsTopic, acks: -1, messages: [{ key: stationId, value: JSON.stringify(entry) }] });
  };
  const boot16 = (client) => client.call('BootNotification', { chargePointVendor: 'Interop', chargePointModel: 'Boot' });
  const boot201 = (client) => client.call('BootNotification', {
    reason: 'PowerUp', chargingStation: { vendorName: 'Interop', model: 'Boot' },
  });

  before(async () => {
    writeFileSync(iso.configFile, readFileSync(iso.configFile, 'utf8').replace('topics:\n', `topics:\n  stations: ${stationsTopic}\n`));
    const kafka = new Kafka({ clientId: 'ocpp-interop-boot', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
    gw = await startGateway({ extraArgs: iso.extraArgs });
    cmd = await new CommandClient({ topics: iso.topics }).start();
    reader = await new TopicReader().connect();
  });

  after(async () => {
    await closeStations(stations);
    try {
      if (gw) await gw.stop();
    } finally {
      await producer?.disconnect();
      await cmd?.stop();
      await reader?.close();
      await iso.cleanup();
    }
  });

  const connect = async (stationId, protocol, handlers = {}) => {
    // The registry record must have arrived before the station is let in (profile 0 with a
    // registry: registered identities only).
    let client;
    await eventually(async () => {
      try {
        client = await connectStation({ port: gw.port, stationId, protocol, handlers });
        return true;
      } catch {
        return false;
      }
    }, 10_000, `${stationId} let in after its registry record`);
    stations.push(client);
    await waitPresence(gw.adminPort, stationId);
    return client;
  };

  test('Pending: configuration allowed, charging refused; approved: TriggerMessage, then Accepted (2.0.1)', async () => {
    const stationId = uniqueStationId('ITBOOT');
    await register(stationId, { boot: 'Pending' });
    let client;
    const handlers = {
      GetVariables: (params) => ({ getVariableResult: params.getVariableData.map((d) => ({ attributeStatus: 'Accepted', component: d.component, variable: d.variable, attributeValue: '1' })) }),
      TriggerMessage: (params, ctx) => {
        // Booting again once the trigger is answered, as a station does.
        ctx.afterReply(async () => { client.secondBoot = await boot201(client); });
        return { status: 'Accepted' };
      },
    };
    client = await connect(stationId, 'ocpp2.0.1', handlers);
    const statusFrom = await reader.snapshot([TOPICS.status]);
    const first = await boot201(client);
    assert.equal(first.status, 'Pending');
    assert.equal(first.interval, 60);
    const { records } = await reader.waitFor([TOPICS.status], (recs) => recs.some((r) => r.value?.action === 'BootNotification'),
      { from: statusFrom, key: stationId, what: 'the Pending boot event' });
    const event = records.find((r) => r.value?.action === 'BootNotification').value;
    assertSchema('stationEvent', event);
    assert.deepEqual(event.decision, { kind: 'boot', source: 'registry', status: 'Pending' });

    const look = await cmd.send({ stationId, action: 'GetVariables', payload: { getVariableData: [{ component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } }] } });
    assertResult(await cmd.waitResult(look, { timeoutMs: 20_000 }), { status: 'Completed', sent: true });
    const charge = await cmd.send({ stationId, action: 'RequestStartTransaction', payload: { remoteStartId: 1, idToken: { idToken: 'X', type: 'Central' } } });
    assertResult(await cmd.waitResult(charge, { timeoutMs: 20_000 }), { status: 'Rejected', sent: false, errorCode: 'NotAccepted' });

    await register(stationId, { boot: 'Accepted', heartbeatInterval: 120 });
    const trigger = await nextCall(client, (c) => c.action === 'TriggerMessage', { timeoutMs: 10_000, what: 'TriggerMessage after approval' });
    assert.deepEqual(trigger.params, { requestedMessage: 'BootNotification' });
    await eventually(async () => client.secondBoot !== undefined, 10_000, 'the second boot answered');
    assert.equal(client.secondBoot.status, 'Accepted');
    assert.equal(client.secondBoot.interval, 120);
    // The trigger was a command like any other: one result, Completed.
    await eventually(async () => cmd.records.some((r) => r.value?.stationId === stationId && r.value?.action === 'TriggerMessage'), 10_000, 'the TriggerMessage result');
    const result = cmd.records.find((r) => r.value?.stationId === stationId && r.value?.action === 'TriggerMessage');
    assertResult(result, { status: 'Completed', response: { status: 'Accepted' } });
    // Now accepted: charging commands go through.
    const later = await cmd.send({ stationId, action: 'RequestStartTransaction', payload: { remoteStartId: 2, idToken: { idToken: 'X', type: 'Central' } } });
    const r = await cmd.waitResult(later, { timeoutMs: 20_000 });
    assert.notEqual(r.error?.code, 'NotAccepted');
  });

  test('unusable registry records are skipped, logged once with their key escaped, and counted; the entry stays', async () => {
    const stationId = uniqueStationId('ITBOOT');
    await register(stationId, { boot: 'Rejected' });
    const client = await connect(stationId, 'ocpp1.6');
    const skipped = async () => metricValue((await httpGet(gw.adminUrl('/metrics'))).text, 'ocpp_station_registry_records_skipped_total') ?? 0;
    const before = await skipped();
    // A key that is no identity, with a line break in it: the log line escapes it.
    await producer.send({ topic: stationsTopic, acks: -1, messages: [{ key: `${stationId}\nFORGED`, value: JSON.stringify({ stationId }) }] });
    await eventually(async () => (await skipped()) === before + 1, 10_000, 'the first skipped record counted');
    assert.ok(gw.output().includes(`key "${stationId}\\nFORGED" is not a station identity`), 'the key escaped in the log line');
    assert.ok(!/^FORGED/m.test(gw.output()), 'a log line begins with the key\'s second line');
    await producer.send({ topic: stationsTopic, acks: -1, messages: [
      { key: stationId, value: 'not json' },
      { key: stationId, value: JSON.stringify({ stationId, boot: 'Maybe' }) },
    ] });
    await eventually(async () => (await skipped()) === before + 3, 10_000, 'three skipped records counted');
    // Within the minute after the first warning, the others are counted, not logged.
    assert.equal(gw.output().match(/station registry record \S+ skipped: /g)?.length, 1, 'one warning line');
    // None of them changed the entry.
    assert.equal((await boot16(client)).status, 'Rejected');
  });

  test('Rejected: the station is told so and sent nothing (1.6)', async () => {
    const stationId = uniqueStationId('ITBOOT');
    await register(stationId, { boot: 'Rejected' });
    const client = await connect(stationId, 'ocpp1.6', { GetConfiguration: () => ({ configurationKey: [] }) });
    const reply = await boot16(client);
    assert.equal(reply.status, 'Rejected');
    assert.equal(reply.interval, 60);
    const look = await cmd.send({ stationId, action: 'GetConfiguration', payload: {} });
    assertResult(await cmd.waitResult(look, { timeoutMs: 20_000 }), { status: 'Rejected', errorCode: 'NotAccepted' });
    assert.equal(client.received.length, 0, 'the gateway sent the rejected station a CALL');
  });

  test('a connection that has not booted is held to what its boot would be answered (a reconnect)', async () => {
    // Stations reconnecting after a network drop do not boot again: the registry's status
    // holds their commands until they do.
    const rejected = uniqueStationId('ITBOOT');
    const pending = uniqueStationId('ITBOOT');
    await register(rejected, { boot: 'Rejected' });
    await register(pending, { boot: 'Pending' });
    const r = await connect(rejected, 'ocpp1.6', { GetConfiguration: () => ({ configurationKey: [] }) });
    const p = await connect(pending, 'ocpp1.6', { GetConfiguration: () => ({ configurationKey: [] }) });
    const look = await cmd.send({ stationId: rejected, action: 'GetConfiguration', payload: {} });
    assertResult(await cmd.waitResult(look, { timeoutMs: 20_000 }), { status: 'Rejected', sent: false, errorCode: 'NotAccepted' });
    assert.equal(r.received.length, 0, 'the gateway sent a station the registry rejects a CALL');
    const reset = await cmd.send({ stationId: pending, action: 'Reset', payload: { type: 'Soft' } });
    assertResult(await cmd.waitResult(reset, { timeoutMs: 20_000 }), { status: 'Rejected', sent: false, errorCode: 'NotAccepted' });
    const config = await cmd.send({ stationId: pending, action: 'GetConfiguration', payload: {} });
    assertResult(await cmd.waitResult(config, { timeoutMs: 20_000 }), { status: 'Completed', sent: true });
    assert.deepEqual(p.received.map((c) => c.action), ['GetConfiguration']);
  });
});

describe('operator decisions: ask mode', () => {
  const tag = randomHex(4);
  const topics = { requests: `it-ask-${tag}.requests`, decisions: `it-ask-${tag}.decisions` };
  const DEADLINE_MS = 800;
  const DECISION_PARTITIONS = 3;
  let dir;
  let gwA;
  let gwB;
  let producer;
  let admin;
  let consumer;
  let reader;
  const stations = [];
  const requests = [];         // every question read, in order
  const answers = new Map();   // token -> {status, partition} or 'ignore'

  before(async () => {
    const kafka = new Kafka({ clientId: 'ocpp-interop-ask', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    // Decisions on several partitions: whichever one a decision lands on, the instance that
    // asked must get it.
    await createTopicsServed(admin, [{ topic: topics.decisions, numPartitions: DECISION_PARTITIONS }]);
    producer = kafka.producer();
    await producer.connect();
    dir = mkdtempSync(join(tmpdir(), 'ocpp-ask-'));
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(configFile, [
      'reply:',
      '  authorize:',
      '    ask: unknown',
      `    ask_deadline_ms: ${DEADLINE_MS}`,
      'limits:',
      '  max_pending_calls: 2',
      'topics:',
      `  authorization_requests: ${topics.requests}`,
      `  authorization_decisions: ${topics.decisions}`,
      '',
    ].join('\n'));
    gwA = await startGateway({ extraArgs: ['--config', configFile] });
    gwB = await startGateway({ extraArgs: ['--config', configFile] });
    // The operator's back office: answers each question as `answers` says, on the partition
    // it says.
    consumer = kafka.consumer({ groupId: `it-ask-${tag}-operator` });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.requests, fromBeginning: true });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const request = JSON.parse(message.value.toString());
        requests.push(request);
        const answer = answers.get(request.idToken.idToken);
        if (!answer || answer === 'ignore') return;
        const decision = { requestId: request.requestId, status: answer.status };
        assertSchema('authorizationDecision', decision);
        await producer.send({ topic: topics.decisions, acks: -1, messages: [{ key: request.requestId, partition: answer.partition, value: JSON.stringify(decision) }] });
      },
    });
    await joined;
    reader = await new TopicReader().connect();
  });

  after(async () => {
    await closeStations(stations);
    await Promise.all([gwA?.stop(), gwB?.stop()]);
    await consumer?.disconnect();
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin?.disconnect();
    await reader?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const station = async (gw, protocol) => {
    const client = await connectStation({ port: gw.port, stationId: uniqueStationId('ITASK'), protocol });
    stations.push(client);
    return client;
  };
  const eventFor = async (client, from, pred, what) => {
    const { records } = await reader.waitFor([TOPICS.authorizations], (recs) => recs.some((r) => pred(r.value)),
      { from, key: client.identity, what });
    const event = records.find((r) => pred(r.value)).value;
    assertSchema('stationEvent', event);
    return event;
  };

  test('the operator answers: the station gets the decision, wherever it was written (two instances)', async () => {
    const a = await station(gwA, 'ocpp1.6');
    const b = await station(gwB, 'ocpp2.0.1');
    const from = await reader.snapshot([TOPICS.authorizations]);
    for (let p = 0; p < DECISION_PARTITIONS; p++) {
      answers.set(`ASKA${p}${tag}`, { status: 'Blocked', partition: p });
      answers.set(`ASKB${p}${tag}`, { status: 'NoCredit', partition: (p + 1) % DECISION_PARTITIONS });
      const started = Date.now();
      assert.equal((await a.call('Authorize', { idTag: `ASKA${p}${tag}` })).idTagInfo.status, 'Blocked');
      assert.equal((await b.call('Authorize', { idToken: { idToken: `ASKB${p}${tag}`, type: 'ISO14443' } })).idTokenInfo.status, 'NoCredit');
      assert.ok(Date.now() - started < 2 * DEADLINE_MS, 'answers came from the decisions, not after the deadlines');
    }
    const asked = requests.find((r) => r.idToken.idToken === `ASKB0${tag}`);
    assertSchema('authorizationRequest', asked);
    assert.equal(asked.gatewayId, gwB.gatewayId);
    assert.deepEqual(asked.idToken, { idToken: `ASKB0${tag}`, type: 'ISO14443' });
    const event = await eventFor(b, from, (v) => v?.payload?.idToken?.idToken === `ASKB0${tag}`, 'the asked Authorize event');
    assert.deepEqual(event.decision, { kind: 'authorization', source: 'ask', status: 'NoCredit', requestId: asked.requestId });
    const m = (await httpGet(gwB.adminUrl('/metrics'))).text;
    assert.ok(metricValue(m, 'ocpp_ask_seconds_count') >= DECISION_PARTITIONS);
  });

  test('no decision by the deadline: the policy answers, and the event says so', async () => {
    const a = await station(gwA, 'ocpp1.6');
    const from = await reader.snapshot([TOPICS.authorizations]);
    const silent = `ASKSILENT${tag}`;
    answers.set(silent, 'ignore');
    const before = metricValue((await httpGet(gwA.adminUrl('/metrics'))).text, 'ocpp_ask_timeouts_total');
    const started = Date.now();
    const info = (await a.call('Authorize', { idTag: silent })).idTagInfo;
    const took = Date.now() - started;
    assert.equal(info.status, 'Invalid');
    assert.ok(took >= DEADLINE_MS - 50, `answered after ${took} ms, before the deadline`);
    const event = await eventFor(a, from, (v) => v?.payload?.idTag === silent, 'the timed-out Authorize event');
    assert.equal(event.decision.source, 'timeout-fallback');
    assert.equal(event.decision.fallback, 'policy');
    assert.equal(event.decision.requestId, requests.find((r) => r.idToken.idToken === silent)?.requestId);
    const after = metricValue((await httpGet(gwA.adminUrl('/metrics'))).text, 'ocpp_ask_timeouts_total');
    assert.equal(after, before + 1);
    // A decision arriving after the deadline changes nothing and breaks nothing.
    await producer.send({ topic: topics.decisions, acks: -1, messages: [{ key: 'late', value: JSON.stringify({ requestId: event.decision.requestId, status: 'Accepted' }) }] });
    assert.equal((await a.call('Heartbeat', {})).currentTime !== undefined, true);
  });

  test('a call read while a token question is open is published and answered after the asked one', async () => {
    // Two CALLs in flight (max_pending_calls 2): a transaction's Started event, whose token is
    // asked about and not answered before the deadline, then its Updated event, asked nothing.
    const id = uniqueStationId('ITASKORD');
    const raw = await RawStation.connect(gwA.wsUrl(id), ['ocpp2.0.1']);
    try {
      const boot = await raw.call('BootNotification', { reason: 'PowerUp', chargingStation: { model: 'M', vendorName: 'V' } });
      assert.equal(boot.reply.json?.[0], 3, boot.reply.text);
      const from = await reader.snapshot([TOPICS.transactions]);
      const silent = `ASKORDER${tag}`;
      answers.set(silent, 'ignore');
      const transactionInfo = { transactionId: `tx-${id}` };
      const at = new Date().toISOString();
      await raw.sendCall('TransactionEvent', {
        eventType: 'Started', timestamp: at, triggerReason: 'Authorized', seqNo: 0, transactionInfo,
        evse: { id: 1, connectorId: 1 }, idToken: { idToken: silent, type: 'ISO14443' },
      }, 'started');
      await raw.sendCall('TransactionEvent', {
        eventType: 'Updated', timestamp: at, triggerReason: 'MeterValuePeriodic', seqNo: 1, transactionInfo,
      }, 'updated');
      const first = await raw.next(10_000, 'the first answer');
      const second = await raw.next(10_000, 'the second answer');
      assert.deepEqual([first.json?.[0], first.json?.[1], second.json?.[0], second.json?.[1]], [3, 'started', 3, 'updated'],
        `answers in the station's order: ${first.text} then ${second.text}`);
      assert.ok(second.at - first.at < DEADLINE_MS, 'the Updated event waited for the question, not a deadline of its own');
      const { records } = await reader.waitFor([TOPICS.transactions], (recs) => recs.length >= 2,
        { from, key: id, what: 'both transaction events' });
      assert.deepEqual(records.map((r) => r.value.messageId), ['started', 'updated'], 'records in the station\'s order');
      assert.equal(records[0].value.decision.source, 'timeout-fallback');
    } finally {
      raw.terminate();
    }
  });

  test('tokens the table lists are answered from it without asking (ask: unknown)', async () => {
    const listed = `ASKLISTED${tag}`;
    await producer.send({ topic: TOKENS_TOPIC, acks: -1, messages: [{ key: listed, value: JSON.stringify({ status: 'Accepted' }) }] });
    const a = await station(gwA, 'ocpp1.6');
    // Until gwA has applied the record the token is unknown and asked about (that is right):
    // wait for the table to answer, then check that an answer from the table asked no one.
    await eventually(async () => (await a.call('Authorize', { idTag: listed })).idTagInfo.status === 'Accepted', 10_000, 'the listed token');
    const from = await reader.snapshot([TOPICS.authorizations]);
    const asks = async () => {
      const m = (await httpGet(gwA.adminUrl('/metrics'))).text;
      return metricValue(m, 'ocpp_ask_seconds_count') + metricValue(m, 'ocpp_ask_timeouts_total');
    };
    const asksBefore = await asks();
    const started = Date.now();
    assert.equal((await a.call('Authorize', { idTag: listed })).idTagInfo.status, 'Accepted');
    assert.ok(Date.now() - started < DEADLINE_MS, 'the table answered without waiting for a decision');
    const event = await eventFor(a, from, (v) => v?.payload?.idTag === listed, 'the listed token\'s Authorize event');
    assert.deepEqual(event.decision, { kind: 'authorization', source: 'table', status: 'Accepted' });
    assert.equal(await asks(), asksBefore, 'a listed token was asked');
  });
});

// A back office that writes its tables with Kafka transactions (Kafka Streams, Connect with
// exactly-once) leaves a commit marker at each partition's end, an offset no record is read
// at: the gateway reads such a table to its end at start and answers from it.
describe('operator decisions: a token table written in transactions', () => {
  let gw;
  let admin;
  let producer;
  const tag = randomHex(4).toUpperCase();
  const topic = `ocpp.it.id-tokens-txn.${tag}`;

  before(async () => {
    const kafka = new Kafka({ clientId: 'ocpp-interop-decisions-txn', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    admin = kafka.admin();
    await admin.connect();
    await createTopicsServed(admin, [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
    producer = kafka.producer({ transactionalId: `ocpp-it-${tag}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });

  after(async () => {
    await gw?.stopAndClean();
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin?.disconnect();
  });

  test('a gateway started after a committed transaction is ready and answers from the table', async () => {
    const card = `TXN${tag}`;
    const blocked = `TXNBLOCKED${tag}`;
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [
      { key: card, value: JSON.stringify({ status: 'Accepted', groupIdToken: 'FLEET-TXN' }) },
      { key: blocked, value: JSON.stringify({ status: 'Blocked' }) },
    ] });
    await txn.commit();
    // Ready only once the table is read to its end (the records at offsets 0 and 1, the
    // commit marker at 2); before, this start waited for the end until its deadline and failed.
    gw = await startGatewayWithConfig(['topics:', `  id_tokens: ${topic}`], { extraArgs: ['--unknown-tokens', 'Invalid'] });
    const client = await connectStation({ port: gw.port, stationId: uniqueStationId('ITDTX'), protocol: 'ocpp1.6' });
    try {
      assert.deepEqual((await client.call('Authorize', { idTag: card })).idTagInfo, { status: 'Accepted', parentIdTag: 'FLEET-TXN' });
      assert.equal((await client.call('Authorize', { idTag: blocked })).idTagInfo.status, 'Blocked');
    } finally {
      await closeStations([client]);
    }
  });
});
