// A station's record key does not depend on the letter case it connects with. Identities
// match without regard to case (the registry, Basic authentication, duplicate detection), so
// a station that reconnects as `cp-1` after `CP-1` is the same station: its records keep the
// key (and the stationId) it is known by — the partition, and with it the order consumers
// see, stays the same.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, uniqueStationId, withGatewayLog } from '../lib/gateway.mjs';
import { TopicReader, TOPICS } from '../lib/kafka.mjs';
import { Station } from '../lib/station.mjs';
import { waitPresence } from '../lib/commands.mjs';

/** Swaps the letter case of every letter: `ItKey-9a` → `iTkEY-9A`. */
function swapCase(id) {
  return [...id].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
}

describe('record key and letter case', () => {
  let gw;
  let reader;
  let from;
  const logOnFailure = (fn) => withGatewayLog(() => gw, fn);

  before(async () => {
    gw = await startGateway();
    reader = await new TopicReader().connect();
    from = await reader.snapshot([TOPICS.heartbeats, TOPICS.connections]);
  });

  after(async () => {
    await reader?.close();
    if (gw) await gw.stop();
  });

  test('a station reconnecting in another letter case keeps its key and stationId', logOnFailure(async () => {
    const first = uniqueStationId('ItKey');
    const second = swapCase(first);
    assert.notEqual(first, second);

    const a = await new Station({ endpoint: gw.endpoint, identity: first, protocol: 'ocpp1.6' }).connect();
    const hbA = await a.call('Heartbeat', {});
    // The cluster knows the station (its presence record is back from Kafka) before it returns.
    await waitPresence(gw.adminPort, first);
    await a.close();

    const b = await new Station({ endpoint: gw.endpoint, identity: second, protocol: 'ocpp1.6' }).connect();
    const hbB = await b.call('Heartbeat', {});
    await b.close();

    const ids = new Set([hbA.messageId, hbB.messageId]);
    const { records } = await reader.waitFor([TOPICS.heartbeats],
      (recs) => recs.filter((r) => ids.has(r.value?.messageId)).length === 2,
      { from, timeoutMs: 20_000, what: 'both Heartbeats' });
    const mine = records.filter((r) => ids.has(r.value?.messageId));
    assert.deepEqual(mine.map((r) => r.key), [first, first], 'record keys');
    assert.deepEqual(mine.map((r) => r.value.stationId), [first, first], 'stationId');
    assert.equal(new Set(mine.map((r) => r.partition)).size, 1, 'one partition');
    assert.notEqual(mine[0].value.sessionId, mine[1].value.sessionId, 'two sessions');

    const conns = (await reader.readToEnd([TOPICS.connections], { from, key: [first, second] }));
    assert.ok(conns.length >= 2, `connection records: ${conns.length}`);
    assert.ok(conns.every((r) => r.key === first), `connection record keys: ${conns.map((r) => r.key).join(', ')}`);
  }));
});
