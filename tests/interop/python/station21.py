"""An OCPP 2.1 charging station built on mobilityhouse `ocpp` (its v21 module checks every
message both ways against the official 2.1 schemas), driven by tests/ocpp21.test.mjs.

Connects with subprotocol ocpp2.1, runs one charging session (boot, status, authorize,
transaction started / updated / ended with meter values, settlement; unless --no-session),
prints one JSON line per answer it got, then serves the operator's commands (printed as they
arrive) until stdin closes. --answers DIR answers each action with a file DIR/<Action>.json.
"""
import argparse
import asyncio
import json
import sys
from datetime import datetime, timezone

import websockets
from ocpp.charge_point import camel_to_snake_case
from ocpp.routing import on
from ocpp.v21 import ChargePoint, call, call_result


def now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def emit(**fields):
    print(json.dumps(fields), flush=True)


class Station(ChargePoint):
    async def route_message(self, raw_msg):
        # Every CALL as it came over the wire (the library's handlers see snake_case keys).
        frame = json.loads(raw_msg)
        if frame[0] == 2:
            emit(event="call", action=frame[2], payload=frame[3])
        await super().route_message(raw_msg)

    @on("RequestStartTransaction")
    async def on_request_start(self, id_token, remote_start_id, **kwargs):
        emit(event="command", action="RequestStartTransaction", idToken=id_token, remoteStartId=remote_start_id)
        return call_result.RequestStartTransaction(status="Accepted")

    @on("SetDefaultTariff")
    async def on_set_default_tariff(self, evse_id, tariff, **kwargs):
        emit(event="command", action="SetDefaultTariff", evseId=evse_id, tariffId=tariff["tariff_id"])
        return call_result.SetDefaultTariff(status="Accepted")

    @on("Reset")
    async def on_reset(self, type, **kwargs):
        emit(event="command", action="Reset", type=type)
        return call_result.Reset(status="Scheduled")


def answer_from_files(directory):
    """Adds a handler to Station for every DIR/<Action>.json: it prints the CALL and answers
    with the file's payload."""
    import pathlib

    for path in sorted(pathlib.Path(directory).glob("*.json")):
        action = path.stem
        response = json.loads(path.read_text())

        def make(action, response):
            async def handler(self, **kwargs):
                emit(event="command", action=action)
                return getattr(call_result, action)(**camel_to_snake_case(response))
            # The library finds handlers by the function's name as an attribute of the class.
            handler.__name__ = f"on_file_{action}"
            return on(action)(handler)

        setattr(Station, f"on_file_{action}", make(action, response))


async def session(cp, transaction_id):
    async def ask(name, request):
        answer = await cp.call(request, suppress=False)
        emit(event="answer", action=name, payload=answer.__dict__)
        return answer

    await ask("BootNotification", call.BootNotification(
        charging_station={"model": "Interop-21", "vendor_name": "Interop"}, reason="PowerUp"))
    await ask("StatusNotification", call.StatusNotification(
        timestamp=now(), connector_status="Available", evse_id=1, connector_id=1))
    token = {"id_token": "04E91C5A2B1F80", "type": "ISO14443"}
    await ask("Authorize", call.Authorize(id_token=token))
    meter = lambda wh: [{"timestamp": now(), "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}]
    await ask("TransactionEvent", call.TransactionEvent(
        event_type="Started", seq_no=0, timestamp=now(), trigger_reason="Authorized",
        transaction_info={"transaction_id": transaction_id, "charging_state": "Charging"},
        id_token=token, evse={"id": 1, "connector_id": 1}, meter_value=meter(1000.0)))
    await ask("TransactionEvent", call.TransactionEvent(
        event_type="Updated", seq_no=1, timestamp=now(), trigger_reason="MeterValuePeriodic",
        transaction_info={"transaction_id": transaction_id, "charging_state": "Charging"},
        meter_value=meter(4200.0)))
    await ask("TransactionEvent", call.TransactionEvent(
        event_type="Ended", seq_no=2, timestamp=now(), trigger_reason="StopAuthorized",
        transaction_info={"transaction_id": transaction_id, "charging_state": "Idle", "stopped_reason": "Local"},
        meter_value=meter(9350.0)))
    await ask("NotifySettlement", call.NotifySettlement(
        transaction_id=transaction_id, psp_ref="PSP-IT-0001", status="Settled",
        settlement_amount=3.12, settlement_time=now()))
    emit(event="ready")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--transaction-id")
    parser.add_argument("--no-session", action="store_true")
    parser.add_argument("--answers")
    args = parser.parse_args()
    if args.answers:
        answer_from_files(args.answers)
    async with websockets.connect(f"{args.url}/{args.id}", subprotocols=["ocpp2.1"]) as ws:
        emit(event="connected", subprotocol=ws.subprotocol)
        cp = Station(args.id, ws)
        serving = asyncio.create_task(cp.start())
        try:
            if args.no_session:
                emit(event="ready")
            else:
                await session(cp, args.transaction_id)
            # Serve commands until the test closes stdin.
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        finally:
            serving.cancel()


asyncio.run(main())
