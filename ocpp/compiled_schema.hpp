#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ocpp/errors.hpp"

namespace ocpp {

struct Violation;

/// A JSON Schema (draft-07 subset used by the OCPP schemas) compiled into a tree that
/// validates an nlohmann::json directly, without copying strings or paths on the way.
///
/// Supported: type, properties, required, additionalProperties (bool or schema), enum, const,
/// minLength/maxLength (code points), minimum/maximum, exclusiveMinimum/exclusiveMaximum
/// (numbers; one kind per side), multipleOf (with a tolerance, as decimals need), items (one schema),
/// additionalItems (ignored beside a single items schema, as the standard says),
/// minItems/maxItems, format date-time (RFC 3339; other formats are annotations), local
/// $ref "#/definitions/...", and annotations ($id, $schema, $comment, title, description,
/// default, examples, javaType, definitions; 2.1's "comment").
class CompiledSchema {
public:
    /// Compiles `schema`; nullptr when it uses a keyword outside the subset (the caller
    /// falls back to a general validator). Throws std::runtime_error for a broken $ref.
    static std::unique_ptr<CompiledSchema> compile(const nlohmann::json& schema);

    /// Appends up to `max` violations of `value` to `out`; returns true when valid.
    bool validate(const nlohmann::json& value, std::vector<Violation>& out,
                  std::size_t max) const;

    struct Node;
    ~CompiledSchema();
    CompiledSchema(const CompiledSchema&) = delete;
    CompiledSchema& operator=(const CompiledSchema&) = delete;

private:
    CompiledSchema();
    std::deque<Node> nodes_;
    const Node* root_ = nullptr;
    friend class SchemaCompiler;
};

}  // namespace ocpp
