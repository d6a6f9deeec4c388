// Operator commands to an OCPP 2.0.1 station (docs/commands.md), through
// both intake paths: command records on ocpp.commands and the REST call on
// the admin listener. The station is ocpp-rpc in strict mode (official 2.0.1
// schemas on both directions). Each result is checked field by field,
// including the station's exact CALLRESULT payload and the id of the CALL it
// received.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import {
  CommandClient, isolatedCommands, restCall, assertResult, connectStation, waitPresence, callsOf, closeStations,
} from '../lib/commands.mjs';

const request = (action) => JSON.parse(readFileSync(join(FIXTURES_DIR, 'ocpp2.0.1', 'requests', `${action}.json`), 'utf8'));

const VERSION = '2.0.1';
const RESULT_WAIT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;

describe('operator commands to an OCPP 2.0.1 station', () => {
  let gw;
  // Command topics of this file's gateway alone (see isolatedCommands).
  const iso = isolatedCommands();
  let reader;
  let cmd;
  let station;
  let from;
  const stationId = uniqueStationId('ITC201');
  const idToken = { idToken: '04A2B9C2E35A80', type: 'ISO14443' };
  const commandIds = [];
  // Device model of the station: component/variable -> value.
  const variables = new Map([
    ['OCPPCommCtrlr/HeartbeatInterval', '300'],
    ['SampledDataCtrlr/TxUpdatedInterval', '60'],
  ]);
  const readOnly = new Set(['SecurityCtrlr/SecurityProfile']);
  let started = null;       // promise of the TransactionEvent Started wire entry
  let ended = null;         // promise of the TransactionEvent Ended wire entry
  let transactionId = null; // the station's id for the remotely started transaction
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  const txEvent = (client, payload) => async () => {
    const before = client.sent.length;
    await client.call('TransactionEvent', payload);
    return client.sent.slice(before).find((e) => e.action === 'TransactionEvent');
  };

  const handlers = {
    RequestStartTransaction: (params, { afterReply, client }) => {
      transactionId = randomUUID();
      // Accept, then start charging: TransactionEvent Started carrying the
      // remoteStartId so the CSMS can match it to the request.
      const payload = {
        eventType: 'Started',
        timestamp: new Date().toISOString(),
        triggerReason: 'RemoteStart',
        seqNo: 0,
        transactionInfo: { transactionId, chargingState: 'Charging', remoteStartId: params.remoteStartId },
        evse: { id: params.evseId ?? 1, connectorId: 1 },
        idToken: params.idToken,
      };
      started = new Promise((resolve, reject) => afterReply(() => txEvent(client, payload)().then(resolve, reject)));
      return { status: 'Accepted', transactionId };
    },
    RequestStopTransaction: (params, { afterReply, client }) => {
      if (params.transactionId !== transactionId) return { status: 'Rejected' };
      const payload = {
        eventType: 'Ended',
        timestamp: new Date().toISOString(),
        triggerReason: 'RemoteStop',
        seqNo: 1,
        transactionInfo: { transactionId, chargingState: 'Idle', stoppedReason: 'Remote' },
      };
      ended = new Promise((resolve, reject) => afterReply(() => txEvent(client, payload)().then(resolve, reject)));
      return { status: 'Accepted' };
    },
    SetVariables: ({ setVariableData }) => ({
      setVariableResult: setVariableData.map(({ component, variable, attributeValue }) => {
        const k = `${component.name}/${variable.name}`;
        let attributeStatus = 'Accepted';
        if (readOnly.has(k)) attributeStatus = 'Rejected';
        else if (!variables.has(k)) attributeStatus = 'UnknownVariable';
        else variables.set(k, attributeValue);
        return { attributeStatus, component, variable };
      }),
    }),
    GetVariables: ({ getVariableData }) => ({
      getVariableResult: getVariableData.map(({ component, variable }) => {
        const k = `${component.name}/${variable.name}`;
        return variables.has(k)
          ? { attributeStatus: 'Accepted', attributeValue: variables.get(k), component, variable }
          : { attributeStatus: 'UnknownVariable', component, variable };
      }),
    }),
    Reset: ({ type }) => ({ status: type === 'Immediate' ? 'Accepted' : 'Scheduled' }),
  };

  function receivedFor(result) {
    const calls = station.received.filter((c) => c.messageId === result.messageId);
    assert.equal(calls.length, 1, `the station received exactly one CALL with messageId ${result.messageId}, got ${calls.length}`);
    return calls[0];
  }

  function assertCompleted(result, { commandId, action, payload, response, window }) {
    assertResult(result, {
      commandId, stationId, action, status: 'Completed', sent: true,
      gatewayId: gw.gatewayId, ocppVersion: VERSION, response, window,
    });
    assert.equal(result.responseViolations, undefined, 'a schema-valid answer has no responseViolations');
    const call = receivedFor(result);
    assert.equal(call.action, action, 'action of the CALL the station received');
    assert.deepEqual(call.params, payload, 'the station must receive the command payload verbatim');
    assert.ok(Date.parse(result.sentAt) <= call.at + 1_000, `sentAt ${result.sentAt} after the station received the CALL`);
  }

  before(async () => {
    reader = await new TopicReader().connect();
    gw = await startGateway({ extraArgs: iso.extraArgs });
    from = await reader.snapshot([TOPICS.transactions, iso.topics.commands]);
    cmd = await new CommandClient({ topics: iso.topics }).start();
    station = await connectStation({ port: gw.port, stationId, protocol: 'ocpp2.0.1', handlers });
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

  test('RequestStartTransaction (Kafka): Completed, then TransactionEvent Started with the remoteStartId', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = { idToken, remoteStartId: 4711, evseId: 1 };
    const commandId = await cmd.send({ stationId, action: 'RequestStartTransaction', payload });
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assert.ok(transactionId, 'the station handled RequestStartTransaction');
    assertCompleted(result, { commandId, action: 'RequestStartTransaction', payload, response: { status: 'Accepted', transactionId }, window });
    assert.equal(cmd.resultsFor(commandId)[0].key, stationId, 'result record key = station id');

    const ev = await started;
    const { result: txRec } = await reader.waitFor([TOPICS.transactions],
      (recs) => recs.find((r) => r.value?.messageId === ev.messageId),
      { from, key: stationId, timeoutMs: 15_000, what: `TransactionEvent ${ev.messageId} on ${TOPICS.transactions}` });
    assertSchema('stationEvent', txRec.value, 'TransactionEvent record');
    assert.equal(txRec.value.action, 'TransactionEvent');
    assert.equal(txRec.value.ocppVersion, VERSION);
    assert.equal(txRec.value.gatewayId, gw.gatewayId);
    assert.deepEqual(txRec.value.payload, ev.payload, 'TransactionEvent payload as sent');
    assert.deepEqual(txRec.value.reply, ev.reply, 'TransactionEvent reply as received');
    assert.equal(txRec.value.payload.eventType, 'Started');
    assert.equal(txRec.value.payload.triggerReason, 'RemoteStart');
    assert.equal(txRec.value.payload.transactionInfo.remoteStartId, 4711, 'remoteStartId of the command');
    assert.equal(txRec.value.payload.transactionInfo.transactionId, transactionId, 'transactionId of the command response');
  }));

  test('RequestStopTransaction (REST, waiting): 200 with the result record; TransactionEvent Ended', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    assert.ok(transactionId, 'no transaction from the previous step');
    const window = { from: Date.now() };
    const payload = { transactionId };
    const res = await restCall(gw.adminPort, stationId, 'RequestStopTransaction', payload, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assert.equal(res.status, 200, `REST status; body ${res.text}`);
    assert.match(String(res.headers['content-type']), /application\/json/, 'content-type');
    const result = res.body;
    assert.ok(result && typeof result.commandId === 'string', `REST body is a result record: ${res.text}`);
    commandIds.push(result.commandId);
    assertCompleted(result, { commandId: result.commandId, action: 'RequestStopTransaction', payload, response: { status: 'Accepted' }, window });
    assert.deepEqual(await cmd.waitResult(result.commandId, { timeoutMs: RESULT_WAIT_MS }), result, 'REST body = record on ocpp.command-results');

    const ev = await ended;
    const { result: txRec } = await reader.waitFor([TOPICS.transactions],
      (recs) => recs.find((r) => r.value?.messageId === ev.messageId),
      { from, key: stationId, timeoutMs: 15_000, what: `TransactionEvent Ended ${ev.messageId}` });
    assert.equal(txRec.value.payload.eventType, 'Ended');
    assert.equal(txRec.value.payload.triggerReason, 'RemoteStop');
    assert.equal(txRec.value.payload.transactionInfo.transactionId, transactionId);
    assert.equal(txRec.value.payload.transactionInfo.stoppedReason, 'Remote');
    assert.deepEqual(txRec.value.reply, ev.reply);
  }));

  test('SetVariables (Kafka): per-variable results as the station answered', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = {
      setVariableData: [
        { attributeValue: '120', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
        { attributeValue: '2', component: { name: 'SecurityCtrlr' }, variable: { name: 'SecurityProfile' } },
        { attributeValue: 'x', component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'LedColour' } },
      ],
    };
    const commandId = await cmd.send({ stationId, action: 'SetVariables', payload, timeoutMs: 10_000 });
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assertCompleted(result, {
      commandId, action: 'SetVariables', payload, window,
      response: {
        setVariableResult: [
          { attributeStatus: 'Accepted', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
          { attributeStatus: 'Rejected', component: { name: 'SecurityCtrlr' }, variable: { name: 'SecurityProfile' } },
          { attributeStatus: 'UnknownVariable', component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'LedColour' } },
        ],
      },
    });
    assert.equal(variables.get('OCPPCommCtrlr/HeartbeatInterval'), '120', 'the station applied the change');
  }));

  test('GetVariables (REST, wait=false): 202 {commandId}, then the result on the topic', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const window = { from: Date.now() };
    const payload = {
      getVariableData: [
        { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
        { component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'LedColour' } },
      ],
    };
    const res = await restCall(gw.adminPort, stationId, 'GetVariables', payload, { query: { wait: 'false', timeoutMs: 10_000 }, timeoutMs: RESULT_WAIT_MS });
    assert.equal(res.status, 202, `REST status; body ${res.text}`);
    assert.deepEqual(Object.keys(res.body ?? {}), ['commandId'], `202 body is {commandId}: ${res.text}`);
    const { commandId } = res.body;
    commandIds.push(commandId);
    const result = await cmd.waitResult(commandId, { timeoutMs: RESULT_WAIT_MS });
    window.to = Date.now();
    assertCompleted(result, {
      commandId, action: 'GetVariables', payload, window,
      response: {
        getVariableResult: [
          { attributeStatus: 'Accepted', attributeValue: '120', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } },
          { attributeStatus: 'UnknownVariable', component: { name: 'EVSE', evse: { id: 1 } }, variable: { name: 'LedColour' } },
        ],
      },
    });
  }));

  test('Reset: Immediate (Kafka) Accepted, OnIdle (REST with commandId) Scheduled', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    const immediate = { type: 'Immediate' };
    const id1 = await cmd.send({ stationId, action: 'Reset', payload: immediate, expiresAt: new Date(Date.now() + 60_000).toISOString() });
    commandIds.push(id1);
    assertCompleted(await cmd.waitResult(id1, { timeoutMs: RESULT_WAIT_MS }), { commandId: id1, action: 'Reset', payload: immediate, response: { status: 'Accepted' } });

    const onIdle = { type: 'OnIdle', evseId: 1 };
    const id2 = `it-reset-${stationId}`;
    const res = await restCall(gw.adminPort, stationId, 'Reset', onIdle, { query: { commandId: id2 }, timeoutMs: RESULT_WAIT_MS });
    assert.equal(res.status, 200, `REST status; body ${res.text}`);
    commandIds.push(id2);
    assertCompleted(res.body, { commandId: id2, action: 'Reset', payload: onIdle, response: { status: 'Scheduled' } });
    assert.deepEqual(await cmd.waitResult(id2, { timeoutMs: RESULT_WAIT_MS }), res.body, 'REST body = record on the topic');
  }));

  test('every command got exactly one result and was delivered exactly once', { timeout: TEST_TIMEOUT_MS }, logOnFailure(async () => {
    assert.equal(commandIds.length, 6);
    for (const id of commandIds) {
      assert.equal(cmd.resultsFor(id).length, 1, `command ${id}: ${cmd.resultsFor(id).length} result records`);
    }
    const messageIds = commandIds.map((id) => cmd.resultsFor(id)[0].value.messageId);
    assert.equal(new Set(messageIds).size, messageIds.length, 'one CALL message id per command');
    assert.deepEqual(station.received.map((c) => c.messageId).sort(), [...messageIds].sort(),
      'the station received exactly the CALLs of the commands, once each');
    assert.equal(callsOf(station, 'Reset').length, 2);
    assert.deepEqual(station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], 'strict-mode validation failures');

    const written = await reader.readToEnd([iso.topics.commands], { from, key: stationId });
    for (const r of written) {
      assert.equal(r.valueError, null, `${r.topic}:${r.offset} value is not JSON`);
      assertSchema('command', r.value, `command record ${r.topic}:${r.offset}`);
    }
    assert.deepEqual(written.map((r) => r.value.commandId).sort(), [...commandIds].sort(), 'one record on ocpp.commands per command');
  }));
});
