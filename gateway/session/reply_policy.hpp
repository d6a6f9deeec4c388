#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "ocpp/version.hpp"

namespace gateway::session {

/// The gateway's local answers to station CALLs: every station-initiated action of both
/// versions gets a reply that is valid against its official response schema.
class ReplyPolicy {
public:
    explicit ReplyPolicy(config::Config::Reply settings) : settings_(std::move(settings)) {}

    /// True for actions whose reply carries a gateway-issued 1.6 transactionId
    /// (StartTransaction): ask the sequencer first.
    static bool needs_transaction_id(ocpp::ProtocolVersion v, std::string_view action);

    /// The CALLRESULT payload for a valid `payload` of `action`. `transaction_id` must be set
    /// when needs_transaction_id(); `now` is the RFC 3339 time to report.
    nlohmann::json reply(ocpp::ProtocolVersion v, std::string_view action,
                         const nlohmann::json& payload, std::optional<std::int64_t> transaction_id,
                         const std::string& now) const;

private:
    struct Request {
        ocpp::ProtocolVersion version;
        const nlohmann::json& payload;
        std::optional<std::int64_t> transaction_id;
        const std::string& now;
    };

    bool token_accepted(const std::string& token) const;
    nlohmann::json id_tag_info(const nlohmann::json& payload) const;
    nlohmann::json id_token_info(const nlohmann::json& payload) const;

    config::Config::Reply settings_;
};

}  // namespace gateway::session
