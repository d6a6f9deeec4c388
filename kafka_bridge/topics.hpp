#pragma once

#include <array>
#include <string>

#include "ocpp/actions.hpp"

namespace kafka_bridge {

/// Topic names. Every key is the station id. Defaults are the contract's; all configurable.
struct Topics {
    std::array<std::string, ocpp::kEventClassCount> by_class = {
        "ocpp.transactions", "ocpp.meter-values", "ocpp.status",   "ocpp.heartbeats",
        "ocpp.authorizations", "ocpp.security",   "ocpp.reports",  "ocpp.data-transfer",
        "ocpp.der",
    };
    std::string connections = "ocpp.connections";
    std::string dead_letter = "ocpp.dead-letter";
    std::string commands = "ocpp.commands";
    std::string command_results = "ocpp.command-results";
    std::string presence = "ocpp.presence";
    /// Compacted: the station registry (identities, password hashes), applied live.
    std::string stations = "ocpp.stations";
    /// Compacted: the operator's token table (authorization decisions), applied live.
    std::string id_tokens = "ocpp.id-tokens";
    /// Ask mode: token questions to the operator, and the operator's decisions.
    std::string authorization_requests = "ocpp.authorization-requests";
    std::string authorization_decisions = "ocpp.authorization-decisions";
    /// Internal: the owner instance's routing decision for each command (docs/commands.md).
    std::string command_routes = "ocpp.command-routes";
    /// Single-partition topic whose offsets number OCPP 1.6 transactions.
    std::string transaction_ids = "ocpp.transaction-ids";
    /// Per station model, the schema refusals of the last report interval (tolerance).
    std::string violations = "ocpp.schema-violations";

    const std::string& for_class(ocpp::EventClass c) const {
        return by_class[static_cast<std::size_t>(c)];
    }
    std::string& for_class(ocpp::EventClass c) { return by_class[static_cast<std::size_t>(c)]; }

    /// Calls `f` with every topic name (to rename them all at once).
    template <class F>
    void for_each(F f) {
        for (auto& name : by_class) {
            f(name);
        }
        for (std::string* name : {&connections, &dead_letter, &commands, &command_results, &presence,
                                  &stations, &id_tokens, &authorization_requests,
                                  &authorization_decisions, &command_routes, &transaction_ids,
                                  &violations}) {
            f(*name);
        }
    }
};

}  // namespace kafka_bridge
