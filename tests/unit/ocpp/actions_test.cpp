#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "ocpp/actions.hpp"
#include "ocpp/schema_registry.hpp"

using ocpp::EventClass;
using ocpp::ProtocolVersion;

TEST_CASE("the catalog is sorted and searchable", "[actions]") {
    for (const auto v : ocpp::kAllVersions) {
        const auto& table = ocpp::actions(v);
        CHECK(std::is_sorted(table.begin(), table.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
        for (const auto& info : table) {
            CHECK(ocpp::find_action(v, info.name) == &info);
        }
    }
    CHECK(ocpp::find_action(ProtocolVersion::v16, "heartbeat") == nullptr);
    CHECK(ocpp::find_action(ProtocolVersion::v16, "TransactionEvent") == nullptr);
    CHECK(ocpp::find_action(ProtocolVersion::v201, "StartTransaction") == nullptr);
}

TEST_CASE("the catalog is complete against the official schemas", "[actions]") {
    const ocpp::SchemaRegistry registry;
    CHECK(ocpp::actions(ProtocolVersion::v16).size() == 39);
    CHECK(ocpp::actions(ProtocolVersion::v201).size() == 64);
    // 2.1: the 64 of 2.0.1, 26 new CALLs and one SEND (NotifyPeriodicEventStream).
    CHECK(ocpp::actions(ProtocolVersion::v21).size() == 91);
    for (const auto v : ocpp::kAllVersions) {
        std::vector<std::string> catalog;
        for (const auto& info : ocpp::actions(v)) {
            catalog.emplace_back(info.name);
            CAPTURE(info.name);
            CHECK(registry.has(v, info.name, ocpp::SchemaKind::request));
            // A SEND is never answered: it has no response schema.
            CHECK(registry.has(v, info.name, ocpp::SchemaKind::response) == (info.rpc == ocpp::Rpc::call));
        }
        CHECK(registry.action_names(v) == catalog);
    }
}

TEST_CASE("station-initiated actions, and only they, have an event class", "[actions]") {
    for (const auto v : ocpp::kAllVersions) {
        for (const auto& info : ocpp::actions(v)) {
            CAPTURE(info.name);
            CHECK(info.event_class.has_value() == info.station_may_send());
        }
    }
}

TEST_CASE("event classes follow the contract table", "[actions]") {
    // DESIGN §4: event class → station-initiated actions, across all versions.
    const std::map<EventClass, std::set<std::string>> contract = {
        {EventClass::transaction, {"StartTransaction", "StopTransaction", "TransactionEvent",
                                   "BatterySwap", "NotifyPriorityCharging", "NotifySettlement"}},
        {EventClass::metering, {"MeterValues", "OpenPeriodicEventStream", "NotifyPeriodicEventStream",
                                "ClosePeriodicEventStream"}},
        {EventClass::status,
         {"BootNotification", "StatusNotification", "FirmwareStatusNotification",
          "DiagnosticsStatusNotification", "LogStatusNotification",
          "SignedFirmwareStatusNotification", "PublishFirmwareStatusNotification",
          "NotifyEvent"}},
        {EventClass::heartbeat, {"Heartbeat"}},
        {EventClass::authorization, {"Authorize", "VatNumberValidation"}},
        {EventClass::security,
         {"SecurityEventNotification", "SignCertificate", "Get15118EVCertificate",
          "GetCertificateStatus", "GetCertificateChainStatus"}},
        {EventClass::report,
         {"NotifyReport", "NotifyMonitoringReport", "NotifyCustomerInformation",
          "NotifyDisplayMessages", "ReportChargingProfiles", "NotifyChargingLimit",
          "ClearedChargingLimit", "NotifyEVChargingNeeds", "NotifyEVChargingSchedule",
          "ReservationStatusUpdate", "PullDynamicScheduleUpdate"}},
        {EventClass::data_transfer, {"DataTransfer"}},
        {EventClass::der, {"NotifyDERAlarm", "NotifyDERStartStop", "ReportDERControl"}},
    };
    std::map<EventClass, std::set<std::string>> actual;
    for (const auto v : ocpp::kAllVersions) {
        for (const auto& info : ocpp::actions(v)) {
            if (info.event_class) {
                actual[*info.event_class].insert(std::string(info.name));
            }
        }
    }
    CHECK(actual == contract);
}

TEST_CASE("event class names round-trip", "[actions]") {
    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        const auto c = static_cast<EventClass>(i);
        CHECK(ocpp::parse_event_class(ocpp::event_class_name(c)) == c);
    }
    CHECK(ocpp::event_class_name(EventClass::data_transfer) == "data-transfer");
    CHECK(ocpp::event_class_name(EventClass::der) == "der");
    CHECK_FALSE(ocpp::parse_event_class("billing"));
}
