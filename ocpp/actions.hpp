#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "ocpp/version.hpp"

namespace ocpp {

/// Who may send the CALL of an action.
enum class Initiator : std::uint8_t { station, central, both };

/// The Kafka topic family a station-initiated action is published to (DESIGN §4).
enum class EventClass : std::uint8_t {
    transaction,
    metering,
    status,
    heartbeat,
    authorization,
    security,
    report,
    data_transfer,
    der,  ///< OCPP 2.1 distributed energy resource control: alarms, start/stop, reports
};

inline constexpr std::size_t kEventClassCount = 9;

/// How the station sends an action: as a CALL that is answered, or (OCPP 2.1) as a SEND
/// (message type 6) that is not.
enum class Rpc : std::uint8_t { call, send };

struct ActionInfo {
    std::string_view name;
    Initiator initiator;
    /// Set for every action a station may initiate; unset for central-only actions.
    std::optional<EventClass> event_class;
    Rpc rpc = Rpc::call;

    bool station_may_send() const { return initiator != Initiator::central; }
    bool central_may_send() const { return initiator != Initiator::station; }
};

/// Every action of `version`, sorted by name.
const std::vector<ActionInfo>& actions(ProtocolVersion version);
/// The action called `name` (exact, case-sensitive) in `version`, or nullptr.
const ActionInfo* find_action(ProtocolVersion version, std::string_view name);

/// "transaction", "metering", "status", "heartbeat", "authorization", "security", "report",
/// "data-transfer", "der".
std::string_view event_class_name(EventClass c);
std::optional<EventClass> parse_event_class(std::string_view name);

}  // namespace ocpp
