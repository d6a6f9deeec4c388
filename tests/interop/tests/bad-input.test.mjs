// Broken and hostile input over the wire: invalid OCPP-J frames from the
// fixtures, refused handshakes, WebSocket-level violations, stray
// CALLRESULTs and overlapping CALLs. Each case has one exact expected
// outcome, refused frames must be dead-lettered, and two well-behaved
// stations (one per version) keep working on the same gateway throughout.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

import { startGateway, uniqueStationId, randomHex, withGatewayLog, httpGet } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { RawStation, tryHandshake, parseCallError, parseCallResult } from '../lib/raw-station.mjs';
import { WellBehavedStation } from '../lib/well-behaved.mjs';
import { loadInvalidCases, selectCases } from '../lib/fixtures.mjs';
import { assertSchema } from '../lib/schemas.mjs';
import { assertSessionEvents, versionOf } from '../lib/expect.mjs';

const VERSIONS = ['ocpp1.6', 'ocpp2.0.1'];
const PREFIX = { 'ocpp1.6': '16', 'ocpp2.0.1': '201' };

// Frames 001-093 are parallel in both versions (framing, JSON, UTF-8,
// structure, depth, number range); 028, 031 and 033 are not valid UTF-8.
const COMMON = [
  '001', '003', '006', '016', '018', '021', '027',   // empty, not JSON, truncated; id recovery rules
  '028', '031', '033',                               // invalid UTF-8 (WebSocket layer: close 1007)
  '035', '038',                                      // lone surrogate escapes
  '042', '043',                                      // trailing data after the frame
  '045', '050',                                      // not an array, empty array
  '052', '053', '058', '060',                        // message type not an integer / unknown
  '064', '065',                                      // CALL with wrong element count
  '069', '072', '078', '080', '082', '084',          // bad id, action, payload
  '087', '089', '090', '093',                        // nesting depth, number overflow
];
const SELECTED = {
  'ocpp1.6': [...COMMON,
    '094', '096', '099',                             // NotImplemented
    '103', '104', '110',                             // NotSupported
    '114', '117', '123',                             // TypeConstraintViolation
    '126', '130', '136',                             // OccurenceConstraintViolation
    '137', '138', '142', '146',                      // PropertyConstraintViolation
    '154', '155', '157', '158', '161', '163', '167', // date-time
  ],
  'ocpp2.0.1': [...COMMON,
    '094', '099', '102',
    '103', '106', '113',
    '114', '115', '116', '120',
    '128', '133', '134', '137',
    '144', '147', '148', '151', '160',
    '164', '165', '168', '172', '176',
  ],
};

const ALL_FIXTURES = process.env.OCPP_TEST_ALL_FIXTURES === '1';
const SECOND_CALL_CODE = { 'ocpp1.6': 'ProtocolError', 'ocpp2.0.1': 'RpcFrameworkError' };
const MAX_MESSAGE = 256 * 1024;

function casesFor(subprotocol) {
  const all = loadInvalidCases(subprotocol);
  const chosen = ALL_FIXTURES ? all : selectCases(all, SELECTED[subprotocol]);
  // The subset must cover every error code of the version.
  const missing = [...new Set(all.map((c) => c.code))].filter((code) => !chosen.some((c) => c.code === code));
  assert.deepEqual(missing, [], `${subprotocol}: the selected fixture cases miss error codes`);
  return chosen;
}

describe('broken and hostile input', () => {
  let gw;
  let reader;
  let from;
  const good = {};            // subprotocol -> WellBehavedStation
  const goodAnsweredAtStart = {};
  const fixtureRuns = {};     // subprotocol -> {stationId, sent: [case], sessionIds:Set}
  const utf8Closed = {};      // subprotocol -> [stationId]
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  const waitDisconnected = async (stationId, what) => {
    const { result } = await reader.waitFor([TOPICS.connections], (recs) => recs.find((r) => r.value?.type === 'Disconnected'),
      { from, key: stationId, timeoutMs: 15_000, what: `Disconnected of ${stationId} (${what})` });
    assertSchema('connectionEvent', result.value, `Disconnected of ${stationId}`);
    return result.value;
  };

  // After each case: the gateway is alive and still serves the others.
  const stillServed = async () => {
    assert.ok(gw.running, `the gateway exited: ${JSON.stringify(gw.exitInfo)}`);
    for (const s of Object.values(good)) await s.progress(1, 10_000);
  };

  before(async () => {
    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.heartbeats, TOPICS.meterValues, TOPICS.authorizations, TOPICS.deadLetter, TOPICS.connections]);
    gw = await startGateway();
    for (const v of VERSIONS) {
      good[v] = await new WellBehavedStation({ endpoint: gw.endpoint, identity: uniqueStationId(`ITOK${PREFIX[v]}`), protocol: v }).start();
    }
    for (const v of VERSIONS) {
      await good[v].progress(2, 10_000);
      goodAnsweredAtStart[v] = good[v].answered;
    }
  });

  after(async () => {
    try {
      for (const s of Object.values(good)) await s.stop().catch(() => {});
      if (gw) await gw.stop();
    } finally {
      await reader?.close();
    }
  });

  test('admin endpoints answer', logOnFailure(async () => {
    assert.equal((await httpGet(gw.adminUrl('/healthz'))).status, 200, '/healthz');
    assert.equal((await httpGet(gw.adminUrl('/readyz'))).status, 200, '/readyz');
    const metrics = await httpGet(gw.adminUrl('/metrics'));
    assert.equal(metrics.status, 200, '/metrics');
    assert.match(metrics.headers['content-type'] ?? '', /^text\/plain/, '/metrics content type');
    assert.match(metrics.text, /^# (TYPE|HELP) /m, '/metrics is Prometheus text');
  }));

  for (const v of VERSIONS) {
    const cases = casesFor(v);
    const textCases = cases.filter((c) => c.validUtf8);
    const nonUtf8Cases = cases.filter((c) => !c.validUtf8);

    test(`${v}: invalid frames get the CALLERROR of the fixtures`, logOnFailure(async (t) => {
      const stationId = uniqueStationId(`ITBAD${PREFIX[v]}`);
      const run = { stationId, sent: [], connections: 1 };
      fixtureRuns[v] = run;
      let raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
      assert.equal(raw.protocol, v);
      let timeouts = 0;
      try {
        for (const c of textCases) {
          await t.test(`${c.file}: ${c.code} id ${c.id}`, async () => {
            assert.ok(timeouts < 3, 'not sent: three frames already went unanswered');
            if (!raw.isOpen) {
              // Keep going after an unexpected close (or a missing answer,
              // whose late arrival would be taken for the next case's) on a
              // fresh connection, so that every case is reported on its own.
              raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
              run.connections++;
            }
            await raw.sendText(c.bytes);
            run.sent.push(c);
            let msg;
            try {
              msg = await raw.next(5_000, `reply to ${c.file}`);
            } catch (err) {
              if (raw.isOpen) { timeouts++; raw.terminate(); }
              throw err;
            }
            const err = parseCallError(msg);
            assert.deepEqual({ code: err.code, id: err.id }, { code: c.code, id: c.id }, `${c.file} (${c.description})`);
          });
        }
        // Nothing else may be queued behind the CALLERRORs: the next message
        // must be the answer to a valid CALL.
        const { id, reply } = await raw.call('Heartbeat', {}, { timeoutMs: 10_000 });
        const res = parseCallResult(reply);
        assert.equal(res.id, id, 'after the invalid frames, the next message answers the Heartbeat');
        assert.equal(typeof res.payload.currentTime, 'string');
        assert.ok(raw.isOpen, 'the connection survives invalid frames');
      } finally {
        await raw.close();
      }
      await stillServed();
    }));

    test(`${v}: every refused frame is dead-lettered with the CALLERROR's id and code`, logOnFailure(async () => {
      const run = fixtureRuns[v];
      assert.ok(run?.sent.length, 'the fixture cases did not run');
      const want = new Map();
      for (const c of run.sent) want.set(c.bytes.toString('utf8'), c);
      assert.equal(want.size, run.sent.length, 'selected frames must be distinct');
      const { records, timedOut } = await reader.waitFor([TOPICS.deadLetter], (recs) => {
        const seen = new Set(recs.map((r) => r.value?.raw));
        return [...want.keys()].every((k) => seen.has(k));
      }, { from, key: run.stationId, timeoutMs: 15_000, what: `dead-letter records of ${run.stationId}`, allowTimeout: true });

      const problems = [];
      const found = new Map();
      for (const rec of records) {
        try {
          assert.equal(rec.valueError, null, 'value is JSON');
          assertSchema('deadLetter', rec.value, `dead-letter ${rec.offset}`);
        } catch (err) {
          problems.push(err.message);
          continue;
        }
        const d = rec.value;
        const c = want.get(d.raw);
        if (!c) { problems.push(`unexpected dead-letter record: ${JSON.stringify(d).slice(0, 300)}`); continue; }
        if (found.has(c.file)) { problems.push(`${c.file}: more than one dead-letter record`); continue; }
        found.set(c.file, d);
        const got = { stationId: d.stationId, gatewayId: d.gatewayId, ocppVersion: d.ocppVersion, rawEncoding: d.rawEncoding, messageId: d.messageId, errorCode: d.errorCode };
        const exp = { stationId: run.stationId, gatewayId: gw.gatewayId, ocppVersion: versionOf(v), rawEncoding: 'utf-8', messageId: c.id, errorCode: c.code };
        try {
          assert.deepEqual(got, exp);
          if (d.rawBytes !== undefined) assert.equal(d.rawBytes, c.bytes.length, 'rawBytes');
        } catch (err) {
          problems.push(`${c.file}: ${err.message}`);
        }
      }
      if (timedOut) {
        const missing = run.sent.filter((c) => !found.has(c.file)).map((c) => c.file);
        problems.push(`no dead-letter record within 15 s for: ${missing.join(', ')}`);
      }
      assert.deepEqual(problems, [], 'dead-letter problems');
      assert.equal(found.size, run.sent.length);
      if (run.connections === 1) {
        const sessions = new Set([...found.values()].map((d) => d.sessionId));
        assert.equal(sessions.size, 1, 'all frames came over one connection: one sessionId');
      }
      await stillServed();
    }));

    test(`${v}: a text frame that is not UTF-8 closes the connection with 1007`, logOnFailure(async (t) => {
      utf8Closed[v] = [];
      assert.ok(nonUtf8Cases.length > 0);
      for (const c of nonUtf8Cases) {
        await t.test(c.file, async () => {
          const stationId = uniqueStationId(`ITU8${PREFIX[v]}`);
          utf8Closed[v].push(stationId);
          const raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
          await raw.sendText(c.bytes).catch(() => {});
          const info = await raw.waitClose(10_000);
          assert.equal(info.code, 1007, `${c.file}: close code`);
          assert.deepEqual(raw.inbox.map((m) => m.text), [], 'no CALLERROR before the close');
          const disc = await waitDisconnected(stationId, c.file);
          assert.equal(disc.closeCode, 1007, 'Disconnected closeCode');
        });
      }
      await stillServed();
    }));
  }

  test('handshake: refused paths, identities and subprotocols', logOnFailure(async (t) => {
    const hex = randomHex(4);
    const cases = [
      { name: 'unknown path /foo/<id>', path: `/foo/IT${hex}`, protocols: ['ocpp1.6'], status: 404 },
      { name: 'empty identity /ocpp/', path: '/ocpp/', protocols: ['ocpp1.6'], status: 404 },
      { name: 'identity of 49 characters', path: `/ocpp/IT${hex}${'x'.repeat(49 - 2 - hex.length)}`, protocols: ['ocpp1.6'], status: 400 },
      { name: 'identity containing ":"', path: `/ocpp/IT:${hex}`, protocols: ['ocpp1.6'], status: 400 },
      { name: 'only unknown subprotocols (ocpp2.2)', path: `/ocpp/IT${hex}`, protocols: ['ocpp2.2'], status: 400 },
      { name: 'only unknown subprotocols (several)', path: `/ocpp/IT${hex}`, protocols: ['ocpp1.5', 'ocpp2.1.0', 'OCPP2.1', 'mqtt'], status: 400 },
    ];
    assert.equal(cases[2].path.length - '/ocpp/'.length, 49);
    for (const c of cases) {
      await t.test(`${c.name} -> HTTP ${c.status}`, async () => {
        const res = await tryHandshake(gw.wsPath(c.path), c.protocols);
        assert.deepEqual(res, { status: c.status });
      });
    }
    const accepted = [
      { name: 'identity of 48 characters', id: `ITLEN-${hex}`.padEnd(48, 'x'), protocols: ['ocpp1.6'], protocol: 'ocpp1.6' },
      { name: 'station prefers 2.0.1', id: uniqueStationId('ITPREF'), protocols: ['ocpp2.0.1', 'ocpp1.6'], protocol: 'ocpp2.0.1' },
      { name: 'station prefers 1.6', id: uniqueStationId('ITPREF'), protocols: ['ocpp1.6', 'ocpp2.0.1'], protocol: 'ocpp1.6' },
      { name: 'unknown first, then 1.6', id: uniqueStationId('ITPREF'), protocols: ['ocpp2.2', 'ocpp1.6'], protocol: 'ocpp1.6' },
      { name: 'station prefers 2.1', id: uniqueStationId('ITPREF'), protocols: ['ocpp2.1', 'ocpp2.0.1', 'ocpp1.6'], protocol: 'ocpp2.1' },
      { name: 'station prefers 2.0.1 over 2.1', id: uniqueStationId('ITPREF'), protocols: ['ocpp2.0.1', 'ocpp2.1'], protocol: 'ocpp2.0.1' },
    ];
    assert.equal(accepted[0].id.length, 48);
    for (const c of accepted) {
      await t.test(`${c.name} -> ${c.protocol}`, async () => {
        const res = await tryHandshake(gw.wsUrl(c.id), c.protocols);
        assert.deepEqual(res, { opened: true, protocol: c.protocol });
      });
    }
    await stillServed();
  }));

  test('no Sec-WebSocket-Protocol header: accepted as OCPP 1.6', logOnFailure(async () => {
    const stationId = uniqueStationId('ITNOPROTO');
    const raw = await RawStation.connect(gw.wsUrl(stationId), null);
    let id;
    try {
      assert.equal(raw.protocol, '', 'no subprotocol in the handshake answer');
      // A 1.6-only payload: 2.0.1 would refuse it (idToken missing, idTag unknown).
      const res = await raw.call('Authorize', { idTag: 'NOPROTO1' });
      id = res.id;
      const r = parseCallResult(res.reply);
      assert.equal(r.id, res.id);
      assert.equal(typeof r.payload.idTagInfo?.status, 'string', 'a 1.6 Authorize.conf');
    } finally {
      await raw.close();
    }
    const { records } = await reader.waitFor([TOPICS.authorizations, TOPICS.connections], (recs) =>
      recs.some((r) => r.value?.messageId === id) && recs.some((r) => r.value?.type === 'Connected'),
    { from, key: stationId, timeoutMs: 15_000, what: `records of ${stationId}` });
    const auth = records.find((r) => r.value?.messageId === id);
    assert.equal(auth.headers['ocpp-version'], '1.6');
    assert.equal(auth.value.ocppVersion, '1.6');
    const conn = records.find((r) => r.value?.type === 'Connected');
    assertSchema('connectionEvent', conn.value, 'Connected');
    assert.equal(conn.value.ocppVersion, '1.6');
    assert.equal(conn.value.subprotocol, null, 'subprotocol is null when the station offered none');
    await stillServed();
  }));

  test('binary frame: close 1003', logOnFailure(async () => {
    const stationId = uniqueStationId('ITBIN');
    const raw = await RawStation.connect(gw.wsUrl(stationId), ['ocpp1.6']);
    await raw.sendBinary(Buffer.from(JSON.stringify([2, randomUUID(), 'Heartbeat', {}]))).catch(() => {});
    const info = await raw.waitClose(10_000);
    assert.equal(info.code, 1003);
    assert.deepEqual(raw.inbox.map((m) => m.text), [], 'no reply to a binary frame');
    assert.equal((await waitDisconnected(stationId, 'binary')).closeCode, 1003);
    await stillServed();
  }));

  // 300 KiB fits in the socket buffers; 10 MiB is still being written when the gateway closes,
  // and reaches the station's 1009 only because the gateway keeps reading after its close frame
  // (lingering close) instead of resetting the connection under the station's writes.
  for (const size of [300 * 1024, 10 * 1024 * 1024]) {
    test(`frame above the maximum message size (${size >> 10} KiB): close 1009`, logOnFailure(async () => {
      const stationId = uniqueStationId('ITBIG');
      const raw = await RawStation.connect(gw.wsUrl(stationId), ['ocpp1.6']);
      const frame = JSON.stringify([2, randomUUID(), 'DataTransfer', { vendorId: 'org.example', data: 'a'.repeat(size) }]);
      assert.ok(Buffer.byteLength(frame) > MAX_MESSAGE);
      // The gateway may close while the frame is still being written.
      await raw.sendText(frame).catch(() => {});
      const info = await raw.waitClose(10_000);
      assert.equal(info.code, 1009, `the station saw close ${info.code}, not the gateway's 1009`);
      assert.deepEqual(raw.inbox.map((m) => m.text), [], 'no reply to an oversized frame');
      assert.equal((await waitDisconnected(stationId, 'oversized')).closeCode, 1009);
      await stillServed();
    }));
  }

  for (const v of VERSIONS) {
    test(`${v}: CALLRESULT for an unknown id is ignored and dead-lettered`, logOnFailure(async () => {
      const stationId = uniqueStationId(`ITRES${PREFIX[v]}`);
      const raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
      const strayId = `stray-${randomHex(8)}`;
      let hbId;
      try {
        await raw.sendText(JSON.stringify([3, strayId, { status: 'Accepted' }]));
        // If the stray CALLRESULT were answered, that answer would come first.
        const { id, reply } = await raw.call('Heartbeat', {});
        hbId = id;
        const res = parseCallResult(reply);
        assert.equal(res.id, id, 'the next message answers the Heartbeat, nothing answers the CALLRESULT');
        assert.ok(raw.isOpen);
      } finally {
        await raw.close();
      }
      const { result } = await reader.waitFor([TOPICS.deadLetter], (recs) => recs.find((r) => r.value?.messageId === strayId),
        { from, key: stationId, timeoutMs: 15_000, what: `dead-letter of the stray CALLRESULT ${strayId}` });
      assertSchema('deadLetter', result.value, 'dead-letter');
      assert.equal(result.value.errorCode, null, 'nothing was sent back, so errorCode is null');
      assert.equal(result.value.raw, JSON.stringify([3, strayId, { status: 'Accepted' }]));
      assert.equal(result.value.ocppVersion, versionOf(v));
      const hb = await reader.readToEnd([TOPICS.heartbeats], { from, key: stationId });
      assert.deepEqual(hb.map((r) => r.value?.messageId), [hbId]);
      await stillServed();
    }));

    test(`${v}: a boot naming a 100 KB vendor is refused, and its dead letters carry 200 bytes of it`, logOnFailure(async () => {
      const stationId = uniqueStationId(`ITBIG${PREFIX[v]}`);
      const raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
      const vendor = 'V'.repeat(100_000);
      const boot = v === 'ocpp1.6'
        ? { chargePointVendor: vendor, chargePointModel: 'M' }
        : { reason: 'PowerUp', chargingStation: { vendorName: vendor, model: 'M' } };
      let bootId;
      let junkId;
      try {
        const { id, reply } = await raw.call('BootNotification', boot);
        bootId = id;
        assert.equal(parseCallError(reply).id, id, 'the boot is over the schema\'s length: CALLERROR');
        // Every later refusal of the station carries its model: 200 bytes of it, not 100 KB.
        junkId = `junk-${randomHex(8)}`;
        const junk = await raw.call('NoSuchAction', {}, { id: junkId });
        assert.equal(parseCallError(junk.reply).id, junkId);
      } finally {
        await raw.close();
      }
      const { records } = await reader.waitFor([TOPICS.deadLetter],
        (recs) => [bootId, junkId].every((id) => recs.some((r) => r.value?.messageId === id)),
        { from, key: stationId, timeoutMs: 15_000, what: `dead letters of ${stationId}'s boot and junk` });
      for (const r of records) {
        assertSchema('deadLetter', r.value, 'dead-letter');
        assert.deepEqual(r.value.stationModel, { vendor: 'V'.repeat(200), model: 'M', firmware: '' }, `model in the dead letter of ${r.value.messageId}`);
        assert.ok(r.text.length < 70 * 1024, `dead letter of ${r.value.messageId}: ${r.text.length} bytes`);
      }
      await stillServed();
    }));

    test(`${v}: a second CALL before the first is answered gets ${SECOND_CALL_CODE[v]}`, logOnFailure(async () => {
      const stationId = uniqueStationId(`ITDUP${PREFIX[v]}`);
      const raw = await RawStation.connect(gw.wsUrl(stationId), [v]);
      const first = randomUUID();
      const second = randomUUID();
      try {
        // Both frames in one TCP write: the gateway has the second before it
        // can have answered the first (that answer waits for Kafka's ack).
        await raw.sendTextFramesTogether([
          JSON.stringify([2, first, 'Heartbeat', {}]),
          JSON.stringify([2, second, 'Heartbeat', {}]),
        ]);
        const replies = [await raw.next(10_000, 'first reply'), await raw.next(10_000, 'second reply')];
        const byId = new Map(replies.map((m) => [m.json?.[1], m]));
        assert.deepEqual([...byId.keys()].sort(), [first, second].sort(), `replies: ${replies.map((m) => m.text).join(' | ')}`);
        const ok = parseCallResult(byId.get(first));
        assert.equal(typeof ok.payload.currentTime, 'string', 'the first CALL is answered normally');
        const err = parseCallError(byId.get(second));
        assert.equal(err.code, SECOND_CALL_CODE[v]);
        assert.ok(raw.isOpen);
      } finally {
        await raw.close();
      }
      const { result } = await reader.waitFor([TOPICS.deadLetter], (recs) => recs.find((r) => r.value?.messageId === second),
        { from, key: stationId, timeoutMs: 15_000, what: `dead-letter of the second CALL ${second}` });
      assertSchema('deadLetter', result.value, 'dead-letter');
      assert.equal(result.value.errorCode, SECOND_CALL_CODE[v]);
      const hb = await reader.readToEnd([TOPICS.heartbeats], { from, key: stationId });
      assert.deepEqual(hb.map((r) => r.value?.messageId), [first], 'only the first CALL is published');
      await stillServed();
    }));
  }

  test('a station that stops reading is closed once 1 MiB of pongs waits for it', logOnFailure(async () => {
    const stationId = uniqueStationId('ITDEAF');
    const raw = await RawStation.connect(gw.wsUrl(stationId), ['ocpp1.6']);
    const connectedAt = Date.now();
    try {
      raw.ws._socket.pause();  // reads nothing from now on
      // 80,000 pings ask for 10 MB of pongs: more than the socket buffers of both ends and
      // the 1 MiB the gateway queues. Sent as the socket takes them.
      const payload = Buffer.alloc(125, 0x61);
      for (let i = 0; i < 80_000; i++) {
        raw.ws.ping(payload);
        if (i % 1000 === 999) {
          while (raw.ws.bufferedAmount > (1 << 20) && raw.ws.readyState === raw.ws.OPEN) await new Promise((r) => setTimeout(r, 5));
          if (raw.ws.readyState !== raw.ws.OPEN) break;
        }
      }
      // The gateway closed it at once, not after its ping interval and pong timeout (90 s).
      // Its close frame is not read either: the connection ends as lost (1006), and the
      // record says why the gateway closed it.
      const d = await waitDisconnected(stationId, 'a station not reading');
      assert.equal(d.closeCode, 1006, `closeCode (reason ${JSON.stringify(d.reason)})`);
      assert.match(d.reason, /^not reading what it is sent; the station did not answer the close/);
      assert.ok(Date.now() - connectedAt < 60_000, `closed ${Date.now() - connectedAt} ms after it connected`);
    } finally {
      raw.ws.terminate();
    }
    await stillServed();
  }));

  test('frames closed at the WebSocket layer leave no dead-letter record', logOnFailure(async () => {
    const ids = Object.values(utf8Closed).flat();
    assert.ok(ids.length > 0, 'the 1007 cases did not run');
    // Their Disconnected events are already published (waited for above).
    const recs = await reader.readToEnd([TOPICS.deadLetter], { from, key: ids });
    assert.deepEqual(recs.map((r) => `${r.key}: ${r.text?.slice(0, 200)}`), []);
  }));

  test('the well-behaved stations were answered throughout and all their messages are on Kafka', logOnFailure(async () => {
    for (const v of VERSIONS) {
      assert.ok(good[v].answered - goodAnsweredAtStart[v] >= 5, `${v}: too few calls answered during the bad-input tests`);
    }
    for (const s of Object.values(good)) await s.stop();
    for (const v of VERSIONS) {
      const s = good[v];
      assert.deepEqual(s.failures, [], `${v}: calls that were not answered`);
      assert.deepEqual(s.station.strictFailures.map((f) => `${f.method}: ${f.error?.message}`), [], `${v}: strict-mode validation failures`);
      assert.deepEqual(s.station.unexpected, [], `${v}: messages that answer no call`);
      const calls = s.calls;
      assert.ok(calls.every((c) => c.reply !== undefined), `${v}: every call got a CALLRESULT`);
      const ids = new Set(calls.map((c) => c.messageId));
      // Replies came after the acks: everything is in Kafka already.
      const records = await reader.readToEnd([TOPICS.heartbeats, TOPICS.meterValues], { from, key: s.identity, timeoutMs: 30_000 });
      assert.equal(records.filter((r) => ids.has(r.value?.messageId)).length, calls.length, `${v}: records found for the calls`);
      assertSessionEvents(records, calls, { stationId: s.identity, version: versionOf(v), gatewayId: gw.gatewayId });
      const dead = await reader.readToEnd([TOPICS.deadLetter], { from, key: s.identity });
      assert.deepEqual(dead.map((r) => r.text), [], `${v}: no dead-letter records for a well-behaved station`);
    }
  }));
});
