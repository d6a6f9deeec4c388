#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ocpp/errors.hpp"
#include "ocpp/version.hpp"

namespace valijson {
class Schema;
}

namespace ocpp {

enum class SchemaKind : std::uint8_t { request, response };

/// One way a payload breaks its schema.
struct Violation {
    Errc errc;  ///< type_violation, occurrence_violation, property_violation or format_violation
    std::string path;     ///< where, e.g. "/meterValue/0/timestamp"
    std::string message;  ///< what, in words
};

struct ValidationResult {
    /// Empty when the payload is valid. The first entry decides the CALLERROR code.
    std::vector<Violation> violations;

    bool ok() const { return violations.empty(); }
    /// A one-line summary suitable for a CALLERROR description (not yet cut to 255).
    std::string summary() const;
};

/// Every request and response schema of every supported version, compiled once.
/// Thread-safe for concurrent validate() calls after construction.
class SchemaRegistry {
public:
    /// Which validator checks payloads. `compiled` (the default) uses the project's validator
    /// for schemas within its keyword subset (all official OCPP schemas are) and valijson for
    /// any other; `general` uses valijson for everything (for comparison in tests and
    /// benchmarks).
    enum class Engine : std::uint8_t { compiled, general };

    /// Compiles the embedded official schemas; then, when `override_dir` is given, the
    /// operator's schemas from `<dir>/<subprotocol>/*.json` (ocpp1.6, ocpp2.0.1, ocpp2.1; a
    /// schema object or an array of them, `$id` "urn:<Action>.req|conf" or
    /// "urn:<Action>Request|Response") replace the official ones.
    /// Throws std::runtime_error with a precise message on any bad schema (start-up only).
    explicit SchemaRegistry(const std::filesystem::path& override_dir = {},
                            Engine engine = Engine::compiled);
    ~SchemaRegistry();
    SchemaRegistry(const SchemaRegistry&) = delete;
    SchemaRegistry& operator=(const SchemaRegistry&) = delete;

    bool has(ProtocolVersion v, std::string_view action, SchemaKind kind) const;
    /// The schema document in force (official or override); null when there is none.
    const nlohmann::json* document(ProtocolVersion v, std::string_view action, SchemaKind kind) const;
    /// The validator that checks `action`'s payloads: `compiled` unless the schema uses
    /// keywords outside the project's subset (or the registry was made with `general`).
    /// Null when there is no schema.
    std::optional<Engine> engine_of(ProtocolVersion v, std::string_view action, SchemaKind kind) const;
    /// Names of the actions with schemas for `v`, sorted.
    std::vector<std::string> action_names(ProtocolVersion v) const;
    /// Number of schemas taken from the override directory.
    std::size_t override_count() const { return override_count_; }

    /// Validates `payload` against the schema of `action`. An action without a schema yields
    /// one violation with errc unknown_action. At most `max_violations` are collected.
    ValidationResult validate(ProtocolVersion v, std::string_view action, SchemaKind kind,
                              const nlohmann::json& payload, std::size_t max_violations = 8) const;

private:
    struct Entry;
    using Table = std::map<std::string, std::unique_ptr<Entry>, std::less<>>;

    void load(ProtocolVersion v, const nlohmann::json& schemas, const std::string& origin,
              bool is_override);
    const Table& table(ProtocolVersion v) const;

    std::array<Table, kAllVersions.size()> tables_;
    std::size_t override_count_ = 0;
    Engine engine_;
};

}  // namespace ocpp
