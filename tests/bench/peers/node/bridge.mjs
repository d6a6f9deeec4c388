// A station-to-Kafka bridge as a team would write it in Node, for side-by-side benchmarks
// (scripts/bench-peers.sh): ocpp-rpc in strict mode (every CALL and every answer validated
// against the official schemas), kafkajs with an idempotent producer (acks=-1), each CALL
// published to its event class's topic keyed by the station id and answered only once the
// send has resolved. Same topics, keys and answers as the gateway's defaults for the actions
// ocpp-loadgen sends.
//
//   node bridge.mjs --port 19500 --brokers 127.0.0.1:9092
import { RPCServer } from 'ocpp-rpc';
import { Kafka, logLevel } from 'kafkajs';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const port = Number(args.port ?? 19500);
const brokers = (args.brokers ?? '127.0.0.1:9092').split(',');

const TOPICS = {
  BootNotification: 'ocpp.status',
  StatusNotification: 'ocpp.status',
  Heartbeat: 'ocpp.heartbeats',
  MeterValues: 'ocpp.meter-values',
  Authorize: 'ocpp.authorizations',
};

const now = () => new Date().toISOString();
function reply(version, method) {
  switch (method) {
    case 'BootNotification': return { status: 'Accepted', currentTime: now(), interval: 300 };
    case 'Heartbeat': return { currentTime: now() };
    case 'Authorize':
      return version === 'ocpp1.6' ? { idTagInfo: { status: 'Accepted' } }
                                   : { idTokenInfo: { status: 'Accepted' } };
    default: return {};
  }
}

const kafka = new Kafka({ clientId: 'ocpp-peer-node', brokers, logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
await producer.connect();

const server = new RPCServer({ protocols: ['ocpp1.6', 'ocpp2.0.1'], strictMode: true });
server.on('client', (client) => {
  const version = client.protocol;
  client.handle(async ({ method, params, messageId }) => {
    const topic = TOPICS[method];
    if (!topic) {
      throw new Error(`${method} not handled by this bridge`);
    }
    const answer = reply(version, method);
    const value = JSON.stringify({
      stationId: client.identity, ocppVersion: version, action: method, messageId,
      receivedAt: now(), payload: params, reply: answer,
    });
    await producer.send({
      topic, acks: -1,
      messages: [{ key: client.identity, value,
                   headers: { 'ocpp-version': version, 'ocpp-action': method } }],
    });
    return answer;
  });
});
await server.listen(port, '127.0.0.1');
console.error(`node peer: ws://127.0.0.1:${port}/ocpp/{stationId} → Kafka ${brokers.join(',')}`);

const stop = async () => {
  await server.close({ awaitPending: false, force: true });
  await producer.disconnect();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
