// OCPP 2.1 over the wire: a charging session and operator commands from an independent 2.1
// client (PyPI `ocpp`, mobilityhouse, its v21 module validating both directions against the
// official 2.1 schemas); SEND (message type 6) recorded and never answered; CALLRESULTERROR
// (type 5) sent for a CALLRESULT that is unmatched or breaks its schema; and 1.6 / 2.0.1, where
// types 5 and 6 stay unknown message types with that version's spelling.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { RawStation } from '../lib/raw-station.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { FIXTURES_DIR } from '../lib/paths.mjs';
import { restCall, assertResult, waitPresence } from '../lib/commands.mjs';

const PYTHON_DIR = join(import.meta.dirname, '..', 'python');
const periodic = (id) => ({ id, pending: 0, basetime: new Date().toISOString(), data: [{ t: 0, v: '11.02' }, { t: 10, v: '11.06' }] });

/**
 * The Python 2.1 station (python/station21.py) as a child process: `lines` are the JSON lines it
 * printed; `waitLine(pred, what)` resolves the first that matches; `stop()` closes its stdin.
 */
function pythonStation(python, args) {
  const child = spawn(python, [join(PYTHON_DIR, 'station21.py'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line));
    for (const w of waiters.splice(0)) w();
  });
  return {
    lines,
    async waitLine(pred, what) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = lines.find(pred);
        if (found) return found;
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`python station: no ${what}\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`);
        }
        // Woken by the next line; the timer only bounds the wait for a process that went quiet.
        await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 500); });
      }
    },
    async stop() {
      child.stdin.end();
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
      if (code === 'timeout') child.kill('SIGKILL');
    },
  };
}

/** The python of the client's venv (created once, kept in the cache directory). */
function venvPython() {
  return execFileSync('bash', [join(PYTHON_DIR, 'venv.sh')], { encoding: 'utf8', timeout: 300_000 }).trim();
}

describe('OCPP 2.1', () => {
  let gw;
  let reader;
  let python;
  const open = [];
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    python = venvPython();
    gw = await startGateway({ extraArgs: ['--unknown-tokens', 'Accepted'] });
    reader = await new TopicReader().connect();
  });

  after(async () => {
    for (const s of open) s.terminate();
    try {
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
    }
  });

  async function station(protocol, prefix) {
    const id = uniqueStationId(prefix);
    const s = await RawStation.connect(gw.wsUrl(id), [protocol]);
    open.push(s);
    assert.equal(s.protocol, protocol);
    s.id = id;
    return s;
  }

  /** The next message must be the CALLRESULT of `id` (nothing else came first). */
  async function expectResult(s, id) {
    const m = await s.next(10_000, `CALLRESULT ${id}`);
    assert.deepEqual([m.json[0], m.json[1]], [3, id], `expected the CALLRESULT of ${id}, got ${m.text}`);
    return m.json[2];
  }

  test('a charging session and commands from mobilityhouse ocpp (v21)', logOnFailure(async () => {
    const id = uniqueStationId('ITPY21');
    const transactionId = `tx-${id}`;
    const from = await reader.snapshot([TOPICS.transactions, TOPICS.status, TOPICS.authorizations]);
    const py = pythonStation(python, ['--url', `ws://127.0.0.1:${gw.port}/ocpp`, '--id', id, '--transaction-id', transactionId]);
    const { lines, waitLine } = py;
    try {
      assert.equal((await waitLine((l) => l.event === 'connected', 'connection')).subprotocol, 'ocpp2.1');
      await waitLine((l) => l.event === 'ready', 'end of the session');
      const answers = lines.filter((l) => l.event === 'answer');
      assert.deepEqual(answers.map((a) => a.action), ['BootNotification', 'StatusNotification', 'Authorize',
        'TransactionEvent', 'TransactionEvent', 'TransactionEvent', 'NotifySettlement']);
      assert.equal(answers[0].payload.status, 'Accepted');
      assert.equal(answers[2].payload.id_token_info.status, 'Accepted');
      assert.equal(answers[3].payload.id_token_info.status, 'Accepted');

      // On the topics, as 2.1 events of their classes, answered only after Kafka took them.
      const { records } = await reader.waitFor([TOPICS.transactions], (recs) => recs.length >= 4,
        { from, key: id, what: `the transaction records of ${id}` });
      assert.deepEqual(records.map((r) => r.value.action), ['TransactionEvent', 'TransactionEvent', 'TransactionEvent', 'NotifySettlement']);
      for (const r of records) {
        assertSchema('stationEvent', r.value);
        assert.equal(r.value.ocppVersion, '2.1');
        assert.equal(r.headers['ocpp-version'], '2.1');
      }
      assert.deepEqual(records.slice(0, 3).map((r) => r.value.payload.eventType), ['Started', 'Updated', 'Ended']);
      assert.equal(records[3].value.payload.transactionId, transactionId);

      // Operator commands through REST: a 2.0.1 action and a 2.1 one, validated against the 2.1 schemas.
      const start = await restCall(gw.adminPort, id, 'RequestStartTransaction',
        { idToken: { idToken: '04E91C5A2B1F80', type: 'ISO14443' }, remoteStartId: 4711 });
      assert.equal(start.status, 200, start.text);
      assertResult(start.body, { stationId: id, action: 'RequestStartTransaction', status: 'Completed', ocppVersion: '2.1', response: { status: 'Accepted' } });
      const tariff = await restCall(gw.adminPort, id, 'SetDefaultTariff',
        { evseId: 1, tariff: { tariffId: 'summer-2026', currency: 'EUR', energy: { prices: [{ priceKwh: 0.39 }] } } });
      assert.equal(tariff.status, 200, tariff.text);
      assertResult(tariff.body, { stationId: id, action: 'SetDefaultTariff', status: 'Completed', ocppVersion: '2.1', response: { status: 'Accepted' } });
      // A payload that breaks the 2.1 schema never reaches the station.
      const bad = await restCall(gw.adminPort, id, 'SetDefaultTariff', { evseId: 1, tariff: { tariffId: 'x' } });
      assert.equal(bad.body?.status, 'Rejected', bad.text);
      const commands = (await waitLine((l) => l.event === 'command' && l.action === 'SetDefaultTariff', 'SetDefaultTariff'), lines.filter((l) => l.event === 'command'));
      assert.deepEqual(commands.map((c) => c.action), ['RequestStartTransaction', 'SetDefaultTariff']);
      assert.equal(commands[1].tariffId, 'summer-2026');
    } finally {
      await py.stop();
    }
  }));

  test('SEND is recorded and never answered; only NotifyPeriodicEventStream is a SEND', logOnFailure(async () => {
    const s = await station('ocpp2.1', 'ITSEND');
    const from = await reader.snapshot([TOPICS.meterValues, TOPICS.deadLetter]);
    s.sendText(JSON.stringify([6, 'send-1', 'NotifyPeriodicEventStream', periodic(7)]));
    await s.sendCall('Heartbeat', {}, 'hb-1');
    await expectResult(s, 'hb-1');
    const { records } = await reader.waitFor([TOPICS.meterValues], (recs) => recs.some((r) => r.value.messageId === 'send-1'),
      { from, key: s.id, what: 'the SEND on ocpp.meter-values' });
    const sent = records.find((r) => r.value.messageId === 'send-1').value;
    assertSchema('stationEvent', sent);
    assert.equal(sent.messageType, 'SEND');
    assert.equal(sent.action, 'NotifyPeriodicEventStream');
    assert.equal(sent.eventClass, 'metering');
    assert.equal('reply' in sent, false, 'a SEND has no reply');

    // A SEND that breaks its schema, and a SEND of a CALL action: dead-lettered, unanswered.
    s.sendText(JSON.stringify([6, 'send-2', 'NotifyPeriodicEventStream', { id: 7 }]));
    s.sendText(JSON.stringify([6, 'send-3', 'Heartbeat', {}]));
    const dead = await reader.waitFor([TOPICS.deadLetter], (recs) => ['send-2', 'send-3'].every((m) => recs.some((r) => r.value.messageId === m)),
      { from, key: s.id, what: 'the refused SENDs on ocpp.dead-letter' });
    for (const r of dead.records.filter((x) => x.value.messageId.startsWith('send-'))) {
      assertSchema('deadLetter', r.value);
      assert.equal(r.value.errorCode, null, `nothing was answered: ${JSON.stringify(r.value)}`);
    }
    // The SEND refused for its schema is diagnosed as a CALL is: what repairs would do for it.
    const broken = dead.records.find((x) => x.value.messageId === 'send-2').value;
    assert.deepEqual(broken.wouldRepair, { rules: [], valid: false }, JSON.stringify(broken));
    // Once they are recorded, the next CALL's answer is the next message: nothing answered them.
    await s.sendCall('Heartbeat', {}, 'hb-2');
    await expectResult(s, 'hb-2');
    // NotifyPeriodicEventStream as a CALL is refused.
    await s.sendCall('NotifyPeriodicEventStream', periodic(8), 'call-1');
    const refused = await s.next(10_000, 'CALLERROR of call-1');
    assert.deepEqual(refused.json.slice(0, 3), [4, 'call-1', 'NotSupported']);
  }));

  test('CALLRESULTERROR answers a CALLRESULT that matches no call or breaks its schema', logOnFailure(async () => {
    const s = await station('ocpp2.1', 'ITCRE');
    s.sendText(JSON.stringify([3, 'no-such-call', {}]));
    const unmatched = await s.next(10_000, 'CALLRESULTERROR for no-such-call');
    assert.deepEqual(unmatched.json.slice(0, 3), [5, 'no-such-call', 'GenericError']);
    s.sendText(JSON.stringify([3, 'broken', 'not an object']));
    const broken = await s.next(10_000, 'CALLRESULTERROR for broken');
    assert.deepEqual(broken.json.slice(0, 3), [5, 'broken', 'FormatViolation']);

    // A command whose answer breaks the 2.1 schema: the station hears so, the result says so.
    const command = restCall(gw.adminPort, s.id, 'Reset', { type: 'Immediate' });
    const reset = await s.next(10_000, 'the Reset CALL');
    assert.deepEqual([reset.json[0], reset.json[2]], [2, 'Reset']);
    s.sendText(JSON.stringify([3, reset.json[1], { status: 'Later' }]));
    const told = await s.next(10_000, 'CALLRESULTERROR for the Reset answer');
    assert.deepEqual(told.json.slice(0, 3), [5, reset.json[1], 'PropertyConstraintViolation']);
    const result = await command;
    assertResult(result.body, { stationId: s.id, action: 'Reset', status: 'Completed', ocppVersion: '2.1', response: { status: 'Later' } });
    assert.ok(result.body.responseViolations?.some((v) => v.path === '/status'), JSON.stringify(result.body));

    // The station's own CALLRESULTERROR is recorded, never answered.
    const from = await reader.snapshot([TOPICS.deadLetter]);
    s.sendText(JSON.stringify([5, 'gw-answer-1', 'FormatViolation', 'could not read the answer', {}]));
    await reader.waitFor([TOPICS.deadLetter], (recs) => recs.some((r) => r.value.messageId === 'gw-answer-1'),
      { from, key: s.id, what: 'the station\'s CALLRESULTERROR on ocpp.dead-letter' });
    await s.sendCall('Heartbeat', {}, 'hb-3');
    await expectResult(s, 'hb-3');
  }));

  for (const [protocol, code] of [['ocpp1.6', 'ProtocolError'], ['ocpp2.0.1', 'MessageTypeNotSupported']]) {
    test(`${protocol}: message types 5 and 6 are unknown (${code}); a stray CALLRESULT is not answered`, logOnFailure(async () => {
      const s = await station(protocol, 'ITOLD');
      s.sendText(JSON.stringify([6, 'six', 'Heartbeat', {}]));
      assert.deepEqual((await s.next(10_000, 'answer to type 6')).json.slice(0, 3), [4, 'six', code]);
      s.sendText(JSON.stringify([5, 'five', 'GenericError', '', {}]));
      assert.deepEqual((await s.next(10_000, 'answer to type 5')).json.slice(0, 3), [4, 'five', code]);
      s.sendText(JSON.stringify([3, 'stray', {}]));
      await s.sendCall('Heartbeat', {}, 'hb-old');
      await expectResult(s, 'hb-old');
    }));
  }
});

describe('OCPP 2.1 commands: every central-system action new in 2.1', () => {
  let gw;
  let station;
  const stationId = uniqueStationId('ITCMD21');
  const dir = join(FIXTURES_DIR, 'ocpp2.1');
  const actions = readdirSync(join(dir, 'commands')).map((f) => f.replace(/\.json$/, '')).sort();
  const read = (kind, action) => JSON.parse(readFileSync(join(dir, kind, `${action}.json`), 'utf8'));
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    const python = venvPython();
    gw = await startGateway();
    // mobilityhouse ocpp checks every CALL it receives against its own copy of the 2.1 schemas
    // (ocpp-rpc 2.2.1's strict mode cannot: it looks 2.1 schemas up as urn:<Action>.req) and
    // answers with responses/<Action>.json.
    station = pythonStation(python, ['--url', `ws://127.0.0.1:${gw.port}/ocpp`, '--id', stationId, '--no-session',
      '--answers', join(dir, 'responses')]);
    await station.waitLine((l) => l.event === 'ready', 'connection');
    await waitPresence(gw.adminPort, stationId);
  });

  after(async () => {
    await station?.stop();
    if (gw) await gw.stop();
  });

  test('each is delivered as written and completed with the station\'s answer', logOnFailure(async () => {
    assert.equal(actions.length, 15);
    for (const action of actions) {
      const res = await restCall(gw.adminPort, stationId, action, read('commands', action));
      assert.equal(res.status, 200, `${action}: ${res.text}`);
      assertResult(res.body, { stationId, action, status: 'Completed', sent: true, ocppVersion: '2.1', response: read('responses', action) });
      assert.equal(station.lines.filter((l) => l.event === 'command' && l.action === action).length, 1, `${action} handled once`);
      const got = station.lines.filter((l) => l.event === 'call' && l.action === action);
      assert.equal(got.length, 1, `${action} reached the station once`);
      assert.deepEqual(got[0].payload, read('commands', action), `${action}: the payload as the operator wrote it`);
    }
  }));
});
