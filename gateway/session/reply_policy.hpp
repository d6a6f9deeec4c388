#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "gateway/decisions/decision.hpp"
#include "gateway/decisions/token_table.hpp"
#include "gateway/security/registry.hpp"
#include "ocpp/version.hpp"

namespace gateway::session {

/// The gateway's answers to station CALLs: every station-initiated action of both versions
/// gets a reply that is valid against its official response schema. The operator's questions
/// are answered from the operator's data (README "Authorization and boot decisions"):
///
///   Authorize, StartTransaction, StopTransaction, TransactionEvent with an idToken
///     ─▶ token table (id-token topic): the entry's status, Expired past expiresAt
///     ─▶ no entry: reply.authorize.unknown_tokens (Invalid by default)
///   BootNotification
///     ─▶ station registry entry's `boot` status and heartbeatInterval
///     ─▶ otherwise reply.boot.default_status and reply.heartbeat_interval_s
class ReplyPolicy {
public:
    /// `tokens` and `registry` outlive the policy; null: no such table (every token / station
    /// unknown).
    ReplyPolicy(config::Config::Reply settings, const decisions::TokenTable* tokens = nullptr,
                const security::StationRegistry* registry = nullptr)
        : settings_(std::move(settings)), tokens_(tokens), registry_(registry) {}

    /// True for actions whose reply carries a gateway-issued 1.6 transactionId
    /// (StartTransaction): ask the sequencer first.
    static bool needs_transaction_id(ocpp::ProtocolVersion v, std::string_view action);

    /// The moment a reply is made: RFC 3339 for the station, unix ms for expiry.
    struct Now {
        std::string text;
        std::int64_t unix_ms = 0;
    };

    struct Answer {
        nlohmann::json reply;
        /// Set for replies that carry the operator's decision (authorization, boot).
        std::optional<decisions::Decision> decision;
    };

    /// A token question to put to the operator (ask mode).
    struct Question {
        std::string token;
        std::string type;  ///< empty for a 1.6 idTag
        /// The token's status in the table, if it has an entry.
        std::optional<std::string> table_status;
    };
    /// The question to ask before answering `action`, or nothing when the table and the
    /// policy answer it (ask mode off, another event class, no token, a token the table
    /// lists while asking only for unknown ones, a NoAuthorization token).
    std::optional<Question> question(ocpp::ProtocolVersion v, std::string_view action,
                                     ocpp::EventClass event_class,
                                     const nlohmann::json& payload) const;

    /// What the operator answered to a question: its decision, or nothing in time.
    struct Asked {
        std::string request_id;
        std::optional<decisions::TokenEntry> decision;
    };

    /// The status a BootNotification of `station_id` would be answered with now: its
    /// registry entry's, else reply.boot.default_status.
    std::string boot_status(std::string_view station_id) const;
    /// The heartbeat interval an accepted BootNotification of `station_id` is told now: its
    /// registry entry's, else reply.heartbeat_interval_s.
    std::chrono::seconds heartbeat_interval(std::string_view station_id) const;

    /// The CALLRESULT payload for a valid `payload` of `action` from `station_id`.
    /// `transaction_id` must be set when needs_transaction_id(); `asked` when a question
    /// was put to the operator.
    Answer reply(ocpp::ProtocolVersion v, std::string_view action, std::string_view station_id,
                 const nlohmann::json& payload, std::optional<std::int64_t> transaction_id,
                 const Now& now, const Asked* asked = nullptr) const;

private:
    struct Request {
        ocpp::ProtocolVersion version;
        std::string_view station_id;
        const nlohmann::json& payload;
        std::optional<std::int64_t> transaction_id;
        const Now& now;
        const Asked* asked;
    };

    /// The decision on a token (`type` empty for a 1.6 idTag) and the entry it came from.
    decisions::Decision decide_token(const std::string& token, std::string_view type,
                                     const Request& r,
                                     std::optional<decisions::TokenEntry>& entry) const;
    nlohmann::json id_tag_info(const Request& r, Answer& answer) const;
    nlohmann::json id_token_info(const Request& r, Answer& answer) const;
    nlohmann::json boot(const Request& r, Answer& answer) const;

    config::Config::Reply settings_;
    const decisions::TokenTable* tokens_;
    const security::StationRegistry* registry_;
};

}  // namespace gateway::session
