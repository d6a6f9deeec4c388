#include "ocpp/actions.hpp"

#include <algorithm>
#include <array>

namespace ocpp {
namespace {

using I = Initiator;
using E = EventClass;

// clang-format off
// The one table of OCPP 1.6 actions (with the security extension).
std::vector<ActionInfo> v16_table() {
    return {
    {"Authorize",                        I::station, E::authorization},
    {"BootNotification",                 I::station, E::status},
    {"CancelReservation",                I::central, std::nullopt},
    {"CertificateSigned",                I::central, std::nullopt},
    {"ChangeAvailability",               I::central, std::nullopt},
    {"ChangeConfiguration",              I::central, std::nullopt},
    {"ClearCache",                       I::central, std::nullopt},
    {"ClearChargingProfile",             I::central, std::nullopt},
    {"DataTransfer",                     I::both,    E::data_transfer},
    {"DeleteCertificate",                I::central, std::nullopt},
    {"DiagnosticsStatusNotification",    I::station, E::status},
    {"ExtendedTriggerMessage",           I::central, std::nullopt},
    {"FirmwareStatusNotification",       I::station, E::status},
    {"GetCompositeSchedule",             I::central, std::nullopt},
    {"GetConfiguration",                 I::central, std::nullopt},
    {"GetDiagnostics",                   I::central, std::nullopt},
    {"GetInstalledCertificateIds",       I::central, std::nullopt},
    {"GetLocalListVersion",              I::central, std::nullopt},
    {"GetLog",                           I::central, std::nullopt},
    {"Heartbeat",                        I::station, E::heartbeat},
    {"InstallCertificate",               I::central, std::nullopt},
    {"LogStatusNotification",            I::station, E::status},
    {"MeterValues",                      I::station, E::metering},
    {"RemoteStartTransaction",           I::central, std::nullopt},
    {"RemoteStopTransaction",            I::central, std::nullopt},
    {"ReserveNow",                       I::central, std::nullopt},
    {"Reset",                            I::central, std::nullopt},
    {"SecurityEventNotification",        I::station, E::security},
    {"SendLocalList",                    I::central, std::nullopt},
    {"SetChargingProfile",               I::central, std::nullopt},
    {"SignCertificate",                  I::station, E::security},
    {"SignedFirmwareStatusNotification", I::station, E::status},
    {"SignedUpdateFirmware",             I::central, std::nullopt},
    {"StartTransaction",                 I::station, E::transaction},
    {"StatusNotification",               I::station, E::status},
    {"StopTransaction",                  I::station, E::transaction},
    {"TriggerMessage",                   I::central, std::nullopt},
    {"UnlockConnector",                  I::central, std::nullopt},
    {"UpdateFirmware",                   I::central, std::nullopt},
    };
}

// The one table of OCPP 2.0.1 actions.
std::vector<ActionInfo> v201_table() {
    return {
    {"Authorize",                         I::station, E::authorization},
    {"BootNotification",                  I::station, E::status},
    {"CancelReservation",                 I::central, std::nullopt},
    {"CertificateSigned",                 I::central, std::nullopt},
    {"ChangeAvailability",                I::central, std::nullopt},
    {"ClearCache",                        I::central, std::nullopt},
    {"ClearChargingProfile",              I::central, std::nullopt},
    {"ClearDisplayMessage",               I::central, std::nullopt},
    {"ClearVariableMonitoring",           I::central, std::nullopt},
    {"ClearedChargingLimit",              I::station, E::report},
    {"CostUpdated",                       I::central, std::nullopt},
    {"CustomerInformation",               I::central, std::nullopt},
    {"DataTransfer",                      I::both,    E::data_transfer},
    {"DeleteCertificate",                 I::central, std::nullopt},
    {"FirmwareStatusNotification",        I::station, E::status},
    {"Get15118EVCertificate",             I::station, E::security},
    {"GetBaseReport",                     I::central, std::nullopt},
    {"GetCertificateStatus",              I::station, E::security},
    {"GetChargingProfiles",               I::central, std::nullopt},
    {"GetCompositeSchedule",              I::central, std::nullopt},
    {"GetDisplayMessages",                I::central, std::nullopt},
    {"GetInstalledCertificateIds",        I::central, std::nullopt},
    {"GetLocalListVersion",               I::central, std::nullopt},
    {"GetLog",                            I::central, std::nullopt},
    {"GetMonitoringReport",               I::central, std::nullopt},
    {"GetReport",                         I::central, std::nullopt},
    {"GetTransactionStatus",              I::central, std::nullopt},
    {"GetVariables",                      I::central, std::nullopt},
    {"Heartbeat",                         I::station, E::heartbeat},
    {"InstallCertificate",                I::central, std::nullopt},
    {"LogStatusNotification",             I::station, E::status},
    {"MeterValues",                       I::station, E::metering},
    {"NotifyChargingLimit",               I::station, E::report},
    {"NotifyCustomerInformation",         I::station, E::report},
    {"NotifyDisplayMessages",             I::station, E::report},
    {"NotifyEVChargingNeeds",             I::station, E::report},
    {"NotifyEVChargingSchedule",          I::station, E::report},
    {"NotifyEvent",                       I::station, E::status},
    {"NotifyMonitoringReport",            I::station, E::report},
    {"NotifyReport",                      I::station, E::report},
    {"PublishFirmware",                   I::central, std::nullopt},
    {"PublishFirmwareStatusNotification", I::station, E::status},
    {"ReportChargingProfiles",            I::station, E::report},
    {"RequestStartTransaction",           I::central, std::nullopt},
    {"RequestStopTransaction",            I::central, std::nullopt},
    {"ReservationStatusUpdate",           I::station, E::report},
    {"ReserveNow",                        I::central, std::nullopt},
    {"Reset",                             I::central, std::nullopt},
    {"SecurityEventNotification",         I::station, E::security},
    {"SendLocalList",                     I::central, std::nullopt},
    {"SetChargingProfile",                I::central, std::nullopt},
    {"SetDisplayMessage",                 I::central, std::nullopt},
    {"SetMonitoringBase",                 I::central, std::nullopt},
    {"SetMonitoringLevel",                I::central, std::nullopt},
    {"SetNetworkProfile",                 I::central, std::nullopt},
    {"SetVariableMonitoring",             I::central, std::nullopt},
    {"SetVariables",                      I::central, std::nullopt},
    {"SignCertificate",                   I::station, E::security},
    {"StatusNotification",                I::station, E::status},
    {"TransactionEvent",                  I::station, E::transaction},
    {"TriggerMessage",                    I::central, std::nullopt},
    {"UnlockConnector",                   I::central, std::nullopt},
    {"UnpublishFirmware",                 I::central, std::nullopt},
    {"UpdateFirmware",                    I::central, std::nullopt},
    };
}

// OCPP 2.1: every action of 2.0.1, and these. New event classes only where none fits: DER
// control (grid operations, not billing) gets its own; battery swaps and settlements are
// billable, so transaction; periodic event streams carry measured values, so metering; the
// tariff actions are all the central system's (commands), so they need none.
std::vector<ActionInfo> v21_table() {
    std::vector<ActionInfo> table = v201_table();
    const std::vector<ActionInfo> added = {
    {"AFRRSignal",                        I::central, std::nullopt},
    {"AdjustPeriodicEventStream",         I::central, std::nullopt},
    {"BatterySwap",                       I::station, E::transaction},
    {"ChangeTransactionTariff",           I::central, std::nullopt},
    {"ClearDERControl",                   I::central, std::nullopt},
    {"ClearTariffs",                      I::central, std::nullopt},
    {"ClosePeriodicEventStream",          I::station, E::metering},
    {"GetCertificateChainStatus",         I::station, E::security},
    {"GetDERControl",                     I::central, std::nullopt},
    {"GetPeriodicEventStream",            I::central, std::nullopt},
    {"GetTariffs",                        I::central, std::nullopt},
    {"NotifyAllowedEnergyTransfer",       I::central, std::nullopt},
    {"NotifyDERAlarm",                    I::station, E::der},
    {"NotifyDERStartStop",                I::station, E::der},
    {"NotifyPeriodicEventStream",         I::station, E::metering, Rpc::send},
    {"NotifyPriorityCharging",            I::station, E::transaction},
    {"NotifySettlement",                  I::station, E::transaction},
    {"NotifyWebPaymentStarted",           I::central, std::nullopt},
    {"OpenPeriodicEventStream",           I::station, E::metering},
    {"PullDynamicScheduleUpdate",         I::station, E::report},
    {"ReportDERControl",                  I::station, E::der},
    {"RequestBatterySwap",                I::central, std::nullopt},
    {"SetDERControl",                     I::central, std::nullopt},
    {"SetDefaultTariff",                  I::central, std::nullopt},
    {"UpdateDynamicSchedule",             I::central, std::nullopt},
    {"UsePriorityCharging",               I::central, std::nullopt},
    {"VatNumberValidation",               I::station, E::authorization},
    };
    table.insert(table.end(), added.begin(), added.end());
    std::sort(table.begin(), table.end(),
              [](const ActionInfo& a, const ActionInfo& b) { return a.name < b.name; });
    return table;
}

constexpr std::array<std::string_view, kEventClassCount> kEventClassNames = {
    "transaction", "metering", "status", "heartbeat",
    "authorization", "security", "report", "data-transfer", "der",
};
// clang-format on

}  // namespace

const std::vector<ActionInfo>& actions(ProtocolVersion version) {
    // Built on first use: a static initializer that throws could not be caught.
    static const std::vector<ActionInfo> v16 = v16_table();
    static const std::vector<ActionInfo> v201 = v201_table();
    static const std::vector<ActionInfo> v21 = v21_table();
    switch (version) {
        case ProtocolVersion::v16: return v16;
        case ProtocolVersion::v201: return v201;
        case ProtocolVersion::v21: return v21;
    }
    return v16;
}

const ActionInfo* find_action(ProtocolVersion version, std::string_view name) {
    const auto& table = actions(version);
    const auto it = std::lower_bound(
        table.begin(), table.end(), name,
        [](const ActionInfo& info, std::string_view key) { return info.name < key; });
    return it != table.end() && it->name == name ? &*it : nullptr;
}

std::string_view event_class_name(EventClass c) {
    return kEventClassNames[static_cast<std::size_t>(c)];
}

std::optional<EventClass> parse_event_class(std::string_view name) {
    for (std::size_t i = 0; i < kEventClassNames.size(); ++i) {
        if (kEventClassNames[i] == name) {
            return static_cast<EventClass>(i);
        }
    }
    return std::nullopt;
}

}  // namespace ocpp
