#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace gateway::decisions {

/// Where the operator's part of an answer came from: recorded in the station event
/// (`decision.source`) and counted, so billing and audits can tell a card the operator
/// accepted from one an open-network policy let through.
enum class Source : std::uint8_t {
    table,             ///< the token's record on the id-token topic
    policy,            ///< no record: the configured policy for unknown tokens / stations
    no_authorization,  ///< a 2.0.1 NoAuthorization token: no identity to check
    registry,          ///< the station's record in the station registry (boot)
    ask,               ///< the operator's decision record, asked for this call
    timeout_fallback,  ///< asked, no decision in time: the table or the policy answered
};

std::string_view source_name(Source s);

/// What was decided for one CALL: a status and its source.
struct Decision {
    Decision(std::string_view kind_, Source source_, std::string status_)
        : kind(kind_), source(source_), status(std::move(status_)) {}

    /// What kind of question: "authorization" or "boot".
    std::string_view kind;
    Source source;
    std::string status;
    /// Ask mode: the request's id (source ask or timeout_fallback).
    std::string request_id;
    /// timeout_fallback: what answered instead (table or policy).
    Source fallback = Source::policy;

    /// The station event's `decision` member.
    nlohmann::json to_json() const {
        nlohmann::json out{{"kind", kind}, {"source", source_name(source)}, {"status", status}};
        if (!request_id.empty()) {
            out["requestId"] = request_id;
        }
        if (source == Source::timeout_fallback) {
            out["fallback"] = source_name(fallback);
        }
        return out;
    }
};

}  // namespace gateway::decisions
