// Operator commands to an OCPP 1.6 station (docs/commands.md), through both
// intake paths: command records on ocpp.commands and the REST call on the
// admin listener. The station is ocpp-rpc in strict mode, so every CALL the
// gateway sends is validated against the official 1.6 schemas before the
// handler sees it. Each result is checked field by field, including the
// station's exact CALLRESULT payload and the id of the CALL it received.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import {
  CommandClient, isolatedCommands, restCall, assertResult, connectStation, waitPresence, callsOf, closeStations,
} from '../lib/commands.mjs';

const request = (action) => JSON.parse(readFileSync(join(FIXTURES_DIR, 'ocpp1.6', 'requests', `${action}.json`), 'utf8'));

const VERSION = '1.6';
const RESULT_WAIT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;

describe('operator commands to an OCPP 1.6 station', () => {
  let gw;
  // Command topics of this file's gateway alone (see isolatedCommands).
  const iso = isolatedCommands();
  let reader;
  let cmd;
  let station;
  let from;
  const stationId = uniqueStationId('ITC16');
  const idTag = request('StartTransaction').idTag;
  const commandIds = [];               // every command sent in this file
  let otherCaseId = null;              // the one sent with the station id in other letter case
  const config = new Map([
    ['HeartbeatInterval', { readonly: false, value: '300' }],
    ['MeterValueSampleInterval', { readonly: false, value: '60' }],
    ['NumberOfConnectors', { readonly: true, value: '2' }],
  ]);
  // What the station did after accepting a remote start / stop.
  let started = null;                  // promise of the StartTransaction wire entry
  let stopped = null;                  // promise of the StopTransaction wire entry
  let transactionId = null;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  const handlers = {
    RemoteStartTransaction: (params, { afterReply, client }) => {
      // Accept, and once the answer is on the wire start the transaction
      // the way a real station does: with its own StartTransaction.
      started = new Promise((resolve, reject) => afterReply(async () => {
        try {
          const payload = { connectorId: params.connectorId ?? 1, idTag: params.idTag, meterStart: 15102, timestamp: new Date().toISOString() };
          const before = client.sent.length;
          await client.call('StartTransaction', payload);
          resolve(client.sent.slice(before).find((e) => e.action === 'StartTransaction'));
        } catch (err) { reject(err); }
      }));
      return { status: 'Accepted' };
    },
    RemoteStopTransaction: (params, { afterReply, client }) => {
      const known = params.transactionId === transactionId;
      if (known) {
        stopped = new Promise((resolve, reject) => afterReply(async () => {
          try {
            const payload = { transactionId: params.transactionId, idTag, meterStop: 27940, timestamp: new Date().toISOString(), reason: 'Remote' };
            const before = client.sent.length;
            await client.call('StopTransaction', payload);
            resolve(client.sent.slice(before).find((e) => e.action === 'StopTransaction'));
          } catch (err) { reject(err); }
        }));
      }
      return { status: known ? 'Accepted' : 'Rejected' };
    },
    Reset: (params) => ({ status: params.type === 'Soft' ? 'Accepted' : 'Rejected' }),
    ChangeConfiguration: ({ key, value }) => {
      const entry = config.get(key);
      if (!entry) return { status: 'NotSupported' };
      if (entry.readonly) return { status: 'Rejected' };
      config.set(key, { ...entry, value });
      return { status: 'Accepted' };
    },
    GetConfiguration: ({ key }) => {
      const keys = key ?? [...config.keys()];
      return {
        configurationKey: keys.filter((k) => config.has(k)).map((k) => ({ key: k, ...config.get(k) })),
        unknownKey: keys.filter((k) => !config.has(k)),
      };
    },
  };

  /** The CALL the station received for a result (by the result's messageId). */
  function receivedFor(result) {
    const calls = station.received.filter((c) => c.messageId === result.messageId);
    assert.equal(calls.length, 1, `the station received exactly one CALL with messageId ${result.messageId}, got ${calls.length}`);
    return calls[0];
  }

  /** Checks a Completed result against the CALL the station got and the answer it gave. */
  function assertCompleted(result, { commandId, action, payload, response, window, stationIdAsGiven = stationId }) {
    assertResult(result, {
      commandId, stationId: stationIdAsGiven, action, status: 'Completed', sent: true,
      gatewayId: gw.gatewayId, ocppVersion: VERSION, response, window,
    });
    assert.equal(result.responseViolations, undefined, 'a schema-valid answer has no responseViolations');
    const call = receivedFor(result);
    assert.equal(call.action, action, 'action of the CALL the station received');
    assert.deepEqual(call.params, payload, 'the station must receive the command payload verbatim');
    // Same host, same clock: sent before the station saw it.
    assert.ok(Date.parse(result.sentAt) <= call.at + 1_000, `sentAt ${result.sentAt} after the station received the CALL`);
  }

  before(async () => {
    reader = await new TopicReader().connect();
    gw = await startGateway({ extraArgs: iso.extraArgs });
    from = await reader.snapshot([TOPICS.transactions, iso.topics.commands]);
    cmd = await new CommandClient({ topics: iso.topics }).start();
    station = await connectStation({ port: gw.port, stationId, protocol: 'ocpp1.6', handlers });
    await station.call('BootNotification', request('BootNotification'));
    await waitPresence(gw.adminPort, stationId);
  });

  after(async () => {
    await closeStations(station);
    try {
      if (gw) await gw.stop();
    } finally {
      await cmd?.stop();
      await reader?.close();
      await iso.cleanup();
    }
  });

  test('RemoteStartTransaction (Kafka): Completed with the answer, then the station starts the transaction', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = { connectorId: 1, idTag };
    const commandId = await cmd.send({ stationId, action: 'RemoteStartTransaction', payload });
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assertCompleted(result, { commandId, action: 'RemoteStartTransaction', payload, response: { status: 'Accepted' }, window });
    const [rec] = cmd.resultsFor(commandId);
    assert.equal(rec.key, stationId, 'result record key = station id');

    // The station's own StartTransaction, answered after the Kafka ack.
    assert.ok(started, 'the station handler armed the StartTransaction');
    const start = await started;
    transactionId = start.reply.transactionId;
    assert.ok(Number.isInteger(transactionId), `StartTransaction reply transactionId: ${JSON.stringify(start.reply)}`);
    const { result: txRec } = await reader.waitFor([TOPICS.transactions],
      (recs) => recs.find((r) => r.value?.messageId === start.messageId),
      { from, key: stationId, timeoutMs: 15_000, what: `StartTransaction ${start.messageId} on ${TOPICS.transactions}` });
    assertSchema('stationEvent', txRec.value, 'StartTransaction record');
    assert.equal(txRec.value.action, 'StartTransaction');
    assert.equal(txRec.value.gatewayId, gw.gatewayId);
    assert.deepEqual(txRec.value.payload, start.payload, 'StartTransaction payload as sent');
    assert.deepEqual(txRec.value.reply, start.reply, 'StartTransaction reply as received');
    assert.equal(txRec.value.payload.idTag, idTag, 'the transaction runs for the idTag of the remote start');
    // The command result precedes the transaction: the station acted on the answer.
    assert.ok(Date.parse(result.completedAt) <= Date.parse(txRec.value.receivedAt) + 1_000,
      `completedAt ${result.completedAt} vs StartTransaction receivedAt ${txRec.value.receivedAt}`);
  }));

  test('RemoteStopTransaction (REST, waiting): 200 with the result record; the station stops the transaction', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    assert.ok(Number.isInteger(transactionId), 'no transaction from the previous step');
    const window = { from: Date.now() };
    const payload = { transactionId };
    const res = await restCall(gw.adminPort, stationId, 'RemoteStopTransaction', payload, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assert.equal(res.status, 200, `REST status; body ${res.text}`);
    assert.match(String(res.headers['content-type']), /application\/json/, 'content-type');
    const result = res.body;
    assert.ok(result && typeof result.commandId === 'string', `REST body is a result record: ${res.text}`);
    commandIds.push(result.commandId);
    assertCompleted(result, { commandId: result.commandId, action: 'RemoteStopTransaction', payload, response: { status: 'Accepted' }, window });
    // The same record is on the results topic.
    const onTopic = await cmd.waitResult(result.commandId, { timeoutMs: RESULT_WAIT_MS });
    assert.deepEqual(onTopic, result, 'the REST body must be the record on ocpp.command-results');

    const stop = await stopped;
    const { result: txRec } = await reader.waitFor([TOPICS.transactions],
      (recs) => recs.find((r) => r.value?.messageId === stop.messageId),
      { from, key: stationId, timeoutMs: 15_000, what: `StopTransaction ${stop.messageId} on ${TOPICS.transactions}` });
    assert.equal(txRec.value.action, 'StopTransaction');
    assert.equal(txRec.value.payload.transactionId, transactionId);
    assert.equal(txRec.value.payload.reason, 'Remote');
    assert.deepEqual(txRec.value.reply, stop.reply);
  }));

  test('Reset (Kafka, with timeoutMs and a future expiresAt): Completed', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = { type: 'Soft' };
    const commandId = await cmd.send({
      stationId, action: 'Reset', payload, timeoutMs: 10_000, expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assertCompleted(result, { commandId, action: 'Reset', payload, response: { status: 'Accepted' }, window });
    // A Hard reset is refused by this station: still Completed, with its answer.
    const hard = { type: 'Hard' };
    const hardId = await cmd.send({ stationId, action: 'Reset', payload: hard });
    commandIds.push(hardId);
    const hardResult = await cmd.waitResult(hardId, { timeoutMs: RESULT_WAIT_MS });
    assertCompleted(hardResult, { commandId: hardId, action: 'Reset', payload: hard, response: { status: 'Rejected' } });
  }));

  test('ChangeConfiguration (REST, commandId and timeoutMs in the query; Idempotency-Key header)', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const commandId = `it-cc-${stationId}`;
    const payload = { key: 'HeartbeatInterval', value: '120' };
    const res = await restCall(gw.adminPort, stationId, 'ChangeConfiguration', payload, { query: { commandId, timeoutMs: 10_000 }, timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assert.equal(res.status, 200, `REST status; body ${res.text}`);
    commandIds.push(commandId);
    assertCompleted(res.body, { commandId, action: 'ChangeConfiguration', payload, response: { status: 'Accepted' }, window });
    assert.deepEqual(await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS }), res.body, 'REST body = record on the topic');
    assert.equal(config.get('HeartbeatInterval').value, '120', 'the station applied the change');

    // The same call again (a caller that lost the answer): the first one's result, not a
    // second delivery (the last test counts the station's CALLs) — also from an instance
    // started after the result was written. The commandId with another action: 409.
    const again = await restCall(gw.adminPort, stationId, 'ChangeConfiguration', payload, { query: { commandId, timeoutMs: 10_000 }, timeoutMs: 5_000 });
    assert.equal(again.status, 200, `repeated call: ${again.text}`);
    assert.deepEqual(again.body, res.body, 'the repeated call gets the first result');
    const later = await startGateway({ extraArgs: iso.extraArgs });
    try {
      const there = await restCall(later.adminPort, stationId, 'ChangeConfiguration', payload, { query: { commandId }, timeoutMs: 5_000 });
      assert.equal(there.status, 200, `repeated call on an instance started later: ${there.text}`);
      assert.deepEqual(there.body, res.body);
    } finally {
      await later.stop();
    }
    const other = await restCall(gw.adminPort, stationId, 'GetConfiguration', {}, { query: { commandId }, timeoutMs: 5_000 });
    assert.equal(other.status, 409, `commandId used again for another action: ${other.text}`);
    assert.match(other.body.error, /was used for ChangeConfiguration to station/);
    assert.deepEqual(other.body.result, res.body);

    const keyed = `it-cc-idem-${stationId}`;
    const unknown = { key: 'NoSuchKey', value: '1' };
    const res2 = await restCall(gw.adminPort, stationId, 'ChangeConfiguration', unknown, { headers: { 'Idempotency-Key': keyed }, timeoutMs: RESULT_WAIT_MS });
    assert.equal(res2.status, 200, `REST status; body ${res2.text}`);
    commandIds.push(keyed);
    assertCompleted(res2.body, { commandId: keyed, action: 'ChangeConfiguration', payload: unknown, response: { status: 'NotSupported' } });
  }));

  test('REST: a repeat whose result is no longer kept: 410 at once, nothing written', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const commandId = `it-pushed-${stationId}`;
    const payload = { key: 'MeterValueSampleInterval', value: '30' };
    const first = await restCall(gw.adminPort, stationId, 'ChangeConfiguration', payload, { query: { commandId }, timeoutMs: RESULT_WAIT_MS });
    assert.equal(first.status, 200, `REST status; body ${first.text}`);
    commandIds.push(commandId);

    // Newer results (other commands', about 900 KB each) push it out of the 16 MiB of results
    // an instance keeps to answer repeats with.
    const filler = 'x'.repeat(900_000);
    for (let i = 0; i < 20; i++) {
      const other = `ITFILL${i}-${stationId}`;
      await cmd.produce(iso.topics.results, other, JSON.stringify({
        commandId: `it-fill-${i}-${stationId}`, stationId: other, action: 'DataTransfer', status: 'Completed', response: { status: 'Accepted', data: filler },
      }));
    }
    const commandsFrom = await reader.snapshot([iso.topics.commands]);
    // Until the instance has read them a repeat gets the result it keeps (200, nothing
    // written); from then on 410, at once: waiting would outlast the client's 5 s.
    const deadline = Date.now() + RESULT_WAIT_MS;
    let again;
    for (;;) {
      again = await restCall(gw.adminPort, stationId, 'ChangeConfiguration', payload, { query: { commandId, timeoutMs: 10_000 }, timeoutMs: 5_000 });
      if (again.status !== 200 || Date.now() > deadline) break;
      assert.deepEqual(again.body, first.body, 'a repeat answered from the results kept');
      await new Promise((resolve) => setTimeout(resolve, 100));  // pace the attempts
    }
    assert.equal(again.status, 410, `repeat of a command whose result was pushed out: ${again.text}`);
    assert.equal(again.body.commandId, commandId);
    assert.match(again.body.error, /has ended and is not carried out again/);
    assert.match(again.body.error, new RegExp(`read it from ${iso.topics.results}`));
    const written = await reader.readToEnd([iso.topics.commands], { from: commandsFrom });
    assert.deepEqual(written.map((r) => r.value), [], 'nothing written to the command topic');
    // The last test checks that the station got this command's CALL once.
  }));

  test('GetConfiguration (REST, wait=false): 202 {commandId}, then the result on the topic', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = { key: ['HeartbeatInterval', 'NumberOfConnectors', 'AlfenLedBrightness'] };
    const res = await restCall(gw.adminPort, stationId, 'GetConfiguration', payload, { query: { wait: 'false' }, timeoutMs: RESULT_WAIT_MS });
    assert.equal(res.status, 202, `REST status; body ${res.text}`);
    assert.deepEqual(Object.keys(res.body ?? {}), ['commandId'], `202 body is {commandId}: ${res.text}`);
    const { commandId } = res.body;
    assert.equal(typeof commandId, 'string');
    assert.ok(commandId.length >= 1 && commandId.length <= 128);
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assertCompleted(result, {
      commandId, action: 'GetConfiguration', payload, window,
      response: {
        configurationKey: [
          { key: 'HeartbeatInterval', readonly: false, value: '120' },
          { key: 'NumberOfConnectors', readonly: true, value: '2' },
        ],
        unknownKey: ['AlfenLedBrightness'],
      },
    });
  }));

  test('GetConfiguration (Kafka) to the station id in other letter case: delivered, stationId as given', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const otherCase = stationId.toLowerCase() === stationId ? stationId.toUpperCase() : stationId.toLowerCase();
    assert.notEqual(otherCase, stationId);
    const payload = {};
    const commandId = await cmd.send({ stationId: otherCase, action: 'GetConfiguration', payload });
    commandIds.push(commandId);
    otherCaseId = commandId;
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    assertCompleted(result, {
      commandId, action: 'GetConfiguration', payload, stationIdAsGiven: otherCase,
      response: {
        configurationKey: [...config.keys()].map((k) => ({ key: k, ...config.get(k) })),
        unknownKey: [],
      },
    });
  }));

  test('every command got exactly one result and was delivered exactly once', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    assert.ok(commandIds.length >= 8, `commands sent: ${commandIds.length}`);
    for (const id of commandIds) {
      const recs = cmd.resultsFor(id);
      assert.equal(recs.length, 1, `command ${id}: ${recs.length} result records`);
    }
    const messageIds = commandIds.map((id) => cmd.resultsFor(id)[0].value.messageId);
    assert.equal(new Set(messageIds).size, messageIds.length, 'one CALL message id per command');
    assert.deepEqual(station.received.map((c) => c.messageId).sort(), [...messageIds].sort(),
      'the station received exactly the CALLs of the commands, once each');
    assert.equal(callsOf(station, 'Reset').length, 2);
    assert.deepEqual(station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], 'strict-mode validation failures');

    // Every command record for this station (both intake paths) matches the
    // command schema, once per command (the other-case one has its own key).
    const written = await reader.readToEnd([iso.topics.commands], { from, key: stationId });
    for (const r of written) {
      assert.equal(r.valueError, null, `${r.topic}:${r.offset} value is not JSON`);
      assertSchema('command', r.value, `command record ${r.topic}:${r.offset}`);
    }
    assert.deepEqual(written.map((r) => r.value.commandId).sort(), commandIds.filter((id) => id !== otherCaseId).sort(),
      'one record on ocpp.commands per command sent with this key');
  }));
});
