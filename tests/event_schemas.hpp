#pragma once

// Validates what the gateway writes against the project's own record schemas
// (schemas/events/), with valijson.
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <memory>
#include <string>

#include "support.hpp"

namespace test_support {

class EventSchema {
public:
    explicit EventSchema(const std::string& name) {
        doc_ = nlohmann::json::parse(
            read_file(std::filesystem::path(OCPP_SOURCE_DIR) / "schemas" / "events" / name));
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(doc_);
        parser.populateSchema(adapter, schema_);
    }

    /// Empty when `record` (JSON text) is valid; else the violations.
    std::string violations(const std::string& record) const {
        const auto value = nlohmann::json::parse(record);
        valijson::Validator validator(valijson::Validator::kStrongTypes);
        valijson::ValidationResults results;
        valijson::adapters::NlohmannJsonAdapter target(value);
        if (validator.validate(schema_, target, &results)) {
            return {};
        }
        std::string text;
        valijson::ValidationResults::Error error;
        while (results.popError(error)) {
            for (const auto& c : error.context) {
                text += c;
            }
            text += ": " + error.description + "\n";
        }
        return text;
    }

private:
    nlohmann::json doc_;
    valijson::Schema schema_;
};

}  // namespace test_support
