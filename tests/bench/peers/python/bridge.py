"""A station-to-Kafka bridge as a team would write it in Python, for side-by-side benchmarks
(scripts/bench-peers.sh): mobilityhouse `ocpp` (validates every CALL and every answer against
the official schemas), `websockets`, and `confluent-kafka` with an idempotent producer
(acks=all). Each CALL is published to its event class's topic keyed by the station id and
answered only after the delivery callback. Same topics, keys and answers as the gateway's
defaults for the actions ocpp-loadgen sends.

    python bridge.py --port 19600 --brokers 127.0.0.1:9092
"""
import argparse
import asyncio
import json
import signal
import threading
from datetime import datetime, timezone

import websockets
from confluent_kafka import KafkaException, Producer
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Publisher:
    """Publishes a record and resolves once Kafka acknowledged it (or failed)."""

    def __init__(self, brokers):
        self.producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                                  "acks": "all"})
        self.running = True
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()

    def _poll(self):
        while self.running:
            self.producer.poll(0.1)

    async def publish(self, topic, station_id, version, action, payload, reply):
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def delivered(err, _msg):
            if err is not None:
                loop.call_soon_threadsafe(done.set_exception, KafkaException(err))
            else:
                loop.call_soon_threadsafe(done.set_result, None)

        value = json.dumps({"stationId": station_id, "ocppVersion": version, "action": action,
                            "receivedAt": now(), "payload": payload, "reply": reply})
        self.producer.produce(topic, key=station_id, value=value, on_delivery=delivered,
                              headers={"ocpp-version": version, "ocpp-action": action})
        await done


def station_class(base, results, version, authorize_field, authorize_reply):
    """The bridge's handlers over one version's ChargePoint: the same five actions, the
    version's own result types and Authorize shape."""

    class Station(base):
        publisher = None

        async def _publish(self, topic, action, payload, reply):
            await self.publisher.publish(topic, self.id, version, action, payload, reply)

        @on("BootNotification")
        async def boot(self, **payload):
            reply = {"status": "Accepted", "currentTime": now(), "interval": 300}
            await self._publish("ocpp.status", "BootNotification", payload, reply)
            return results.BootNotification(current_time=reply["currentTime"], interval=300,
                                            status="Accepted")

        @on("Heartbeat")
        async def heartbeat(self, **payload):
            at = now()
            await self._publish("ocpp.heartbeats", "Heartbeat", payload, {"currentTime": at})
            return results.Heartbeat(current_time=at)

        @on("StatusNotification")
        async def status(self, **payload):
            await self._publish("ocpp.status", "StatusNotification", payload, {})
            return results.StatusNotification()

        @on("MeterValues")
        async def meter_values(self, **payload):
            await self._publish("ocpp.meter-values", "MeterValues", payload, {})
            return results.MeterValues()

        @on("Authorize")
        async def authorize(self, **payload):
            info = {"status": "Accepted"}
            await self._publish("ocpp.authorizations", "Authorize", payload,
                                {authorize_reply: info})
            return results.Authorize(**{authorize_field: info})

    return Station


Station16 = station_class(ChargePoint16, result16, "ocpp1.6", "id_tag_info", "idTagInfo")
Station201 = station_class(ChargePoint201, result201, "ocpp2.0.1", "id_token_info", "idTokenInfo")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=19600)
    parser.add_argument("--brokers", default="127.0.0.1:9092")
    args = parser.parse_args()
    publisher = Publisher(args.brokers)
    Station16.publisher = publisher
    Station201.publisher = publisher

    async def serve(connection):
        station_id = connection.request.path.rstrip("/").split("/")[-1]
        station = (Station16 if connection.subprotocol == "ocpp1.6" else Station201)(
            station_id, connection)
        try:
            await station.start()
        except websockets.ConnectionClosed:
            pass

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with websockets.serve(serve, "127.0.0.1", args.port,
                                subprotocols=["ocpp1.6", "ocpp2.0.1"], ping_interval=None):
        print(f"python peer: ws://127.0.0.1:{args.port}/ocpp/{{stationId}} -> Kafka {args.brokers}",
              flush=True)
        await stop
    publisher.running = False
    publisher.producer.flush(10)


if __name__ == "__main__":
    asyncio.run(main())
