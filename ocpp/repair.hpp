#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ocpp {

/// The named repairs a tolerance profile may allow (README "Tolerance profiles"). Each
/// changes a value only where the schema refuses it, and only in the one way named.
enum class RepairRule : std::uint8_t {
    /// A `date-time` without a UTC offset (`2026-12-01T10:00:00[.fff]`) is read in the
    /// profile's assumed offset (UTC unless given) and rewritten in UTC (`…Z`).
    timestamp_without_offset,
    /// A property an object's schema does not allow (`additionalProperties: false`) is
    /// removed from the payload; the raw frame keeps it.
    unknown_properties,
    /// A string outside its enumeration that equals exactly one official value when case,
    /// `-`, `_`, `.` and spaces are ignored (`charging`, `KWH`, `Power_Active_Import`) takes
    /// that value's official spelling.
    enum_case,
    /// A string where the schema wants a number (`"12.5"`): the number, when the whole
    /// string is one (an integer where an integer is wanted).
    number_as_string,
    /// A number where the schema wants a string (1.6 `value: 12.5`): its JSON text.
    string_as_number,
    /// An optional property set to `""` where the schema refuses an empty string (an
    /// enumeration, a date-time, a minimum length, a non-string type) is removed.
    empty_optional,
};
inline constexpr std::size_t kRepairRuleCount = 6;

std::string_view repair_rule_name(RepairRule rule);
std::optional<RepairRule> parse_repair_rule(std::string_view name);

/// What a profile allows.
struct RepairPolicy {
    std::uint32_t allowed = 0;
    /// For timestamp_without_offset: minutes east of UTC the station's clock runs at.
    int assume_offset_minutes = 0;

    /// Every repair (for diagnosing what would help), at UTC.
    static RepairPolicy everything() { return RepairPolicy{(1U << kRepairRuleCount) - 1U, 0}; }

    bool allows(RepairRule rule) const { return (allowed >> static_cast<unsigned>(rule)) & 1U; }
    void allow(RepairRule rule) { allowed |= 1U << static_cast<unsigned>(rule); }
};

/// One change made to a payload.
struct Repair {
    RepairRule rule;
    std::string path;       ///< JSON Pointer, e.g. "/meterValue/0/timestamp"
    nlohmann::json from;    ///< the station's value
    std::optional<nlohmann::json> to;  ///< the value now there; none: the property was removed
};

/// A station message accepted after repairs: what the published event says about it.
struct Repaired {
    std::string profile;  ///< the tolerance profile that allowed them
    std::string raw;      ///< the frame as the station sent it
    std::vector<Repair> repairs;
};

/// Applies the repairs `policy` allows wherever `schema` (a whole schema document: local
/// `$ref`s resolve against it) refuses part of `payload`, in place; returns every change,
/// depth first, an object's properties in name order. Valid parts are never touched. The
/// caller validates the result again: a repair fixes one kind of fault, the payload may have
/// others.
std::vector<Repair> repair_payload(const nlohmann::json& schema, nlohmann::json& payload,
                                   const RepairPolicy& policy);

/// `repairs` as [{rule, path, from, to}] (`to` left out for a removed property).
nlohmann::json repairs_json(const std::vector<Repair>& repairs);

}  // namespace ocpp
