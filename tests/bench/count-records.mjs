// Counts the records of topics by the `ocpp-action` header, for the stations whose key starts
// with a prefix: node tests/bench/count-records.mjs BROKERS PREFIX TOPIC... prints one JSON
// object {action: count} plus "stations" (distinct keys). Used by scripts/bench-storm.sh to
// check on the topics that a storm lost nothing.
import { TopicReader } from '../interop/lib/kafka.mjs';

const [brokers, prefix, ...topics] = process.argv.slice(2);
if (!brokers || !prefix || topics.length === 0) {
  console.error('usage: count-records.mjs BROKERS PREFIX TOPIC...');
  process.exit(2);
}
const reader = await new TopicReader({ brokers }).connect();
try {
  const records = await reader.readToEnd(topics, { timeoutMs: 120_000 });
  const counts = {};
  const keys = new Set();
  for (const r of records) {
    if (typeof r.key !== 'string' || !r.key.startsWith(prefix)) continue;
    keys.add(r.key);
    const action = r.headers['ocpp-action'] ?? '?';
    counts[action] = (counts[action] ?? 0) + 1;
  }
  counts.stations = keys.size;
  console.log(JSON.stringify(counts));
} finally {
  await reader.close();
}
