#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "kafka_bridge/table_order.hpp"

namespace gateway::decisions {

/// The OCPP 2.0.1 authorization statuses (AuthorizationStatusEnumType); OCPP 1.6 knows the
/// first five. True when `status` is one of them, spelled exactly.
bool is_authorization_status(std::string_view status);
/// `status` as OCPP 1.6 can say it: the 2.0.1-only statuses (NoCredit, NotAtThisTime, ...)
/// become Invalid, a refusal 1.6 stations all handle.
std::string_view status_for_v16(std::string_view status);
/// Whether OCPP 2.0.1's IdTokenEnumType has the token type `type`; a token entry may also
/// have the three 2.1 added (DirectPayment, EVCCID, VIN), which a 2.0.1 station's schema refuses.
bool is_v201_token_type(std::string_view type);

/// The operator's word on one token: the value of a record on the id-token topic
/// (schemas/events/id-token.schema.json).
struct TokenEntry {
    std::string id_token;
    /// 2.0.1 IdTokenEnumType the entry is limited to; empty: any type (and 1.6 idTags).
    std::string type;
    std::string status;
    /// Past this (unix ms) the token answers Expired.
    std::optional<std::int64_t> expires_at_ms;
    std::string expires_at;  ///< the same, RFC 3339 as written
    /// 2.0.1 groupIdToken {idToken, type} / 1.6 parentIdTag; empty id: none.
    std::string group_id_token;
    std::string group_type;
    /// 2.0.1 personalMessage (MessageContentType); null: none.
    nlohmann::json personal_message;
    /// 2.0.1 language1.
    std::string language;
};

/// Reads the members of a token entry from `doc` (a JSON object); `key`, when given, is the
/// record key the entry's idToken must match. Returns the problem in words.
std::optional<std::string> read_token_entry(const nlohmann::json& doc,
                                            const std::optional<std::string>& key, TokenEntry& e);

/// The token table: the last record per token of the compacted id-token topic (key: the
/// token as stations send it, 1.6 `idTag` / 2.0.1 `idToken.idToken`; a tombstone deletes).
/// Tokens are compared without regard to letter case (OCPP: IdToken is case-insensitive);
/// records of one token under two spellings, or from two partitions (the topic grew), are
/// ordered by kafka_bridge::supersede, the same on every instance.
/// Written by one thread (the topic's reader), read by every I/O thread.
class TokenTable {
public:
    /// Applies one record, read from `partition` (-1: not known; records are then taken in
    /// the order applied) with its time `timestamp_ms`. Returns the problem in words when the
    /// record is unusable or older than the one that stands for its token under another
    /// spelling or from another partition: it is then skipped (the entry for its token, if
    /// any, stays as it was) and counted.
    std::optional<std::string> apply_record(const std::string& key,
                                            const std::optional<std::string>& value,
                                            std::chrono::system_clock::time_point now,
                                            std::int32_t partition = -1,
                                            std::int64_t timestamp_ms = -1);

    /// The entry for `token` when it applies to `type` (a 2.0.1 IdTokenEnumType; empty for a
    /// 1.6 idTag, which every entry applies to).
    std::optional<TokenEntry> find(std::string_view token, std::string_view type) const;

    std::size_t size() const;
    /// Records skipped (unusable, or older than the one that stands) since start-up.
    std::uint64_t rejected_records() const { return rejected_.load(); }
    /// When the last record (usable or not) was applied; nothing before the first.
    std::optional<std::chrono::system_clock::time_point> last_applied() const;

private:
    struct Stored {
        TokenEntry entry;
        kafka_bridge::RecordOrigin origin;
    };
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, Stored> entries_;  // lower-case token
    kafka_bridge::Deletions deleted_;                   // lower-case tokens
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::int64_t> last_applied_ms_{-1};
};

}  // namespace gateway::decisions
