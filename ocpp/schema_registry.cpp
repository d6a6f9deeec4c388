#include "ocpp/schema_registry.hpp"

#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>

#include "ocpp/actions.hpp"
#include "ocpp/compiled_schema.hpp"
#include "ocpp/embedded_schemas.hpp"
#include "ocpp/rfc3339.hpp"

namespace ocpp {
namespace {

using json = nlohmann::json;

// valijson checks `format: date-time` with a std::regex built per call (~0.5 ms a message).
// The registry renames the keyword to this one and checks it with is_rfc3339_date_time.
constexpr const char* kDateTimeKeyword = "x-ocpp-date-time";
constexpr const char* kDateTimeMessage = "String is not an RFC 3339 date-time.";

class DateTimeConstraint final : public valijson::constraints::PolyConstraint {
public:
    bool validate(const valijson::adapters::Adapter& target,
                  const std::vector<std::string>& context,
                  valijson::ValidationResults* results) const override {
        std::string text;
        if (!target.getString(text)) {
            return true;  // not a string: the `type` constraint reports it
        }
        if (is_rfc3339_date_time(text)) {
            return true;
        }
        if (results != nullptr) {
            results->pushError(context, kDateTimeMessage);
        }
        return false;
    }

private:
    Constraint* cloneInto(void* memory) const override { return new (memory) DateTimeConstraint(); }
    std::size_t sizeOf() const override { return sizeof(DateTimeConstraint); }
};

class DateTimeBuilder final : public valijson::ConstraintBuilder {
public:
    valijson::constraints::Constraint* make(const valijson::adapters::Adapter&) const override {
        return new DateTimeConstraint();
    }
};

// valijson's multipleOf compares a double remainder with machine epsilon, so 8.3 is not a
// multiple of 0.1 for it; stations send such charging limits. This keyword checks the quotient
// with a tolerance instead.
constexpr const char* kMultipleOfKeyword = "x-ocpp-multiple-of";
constexpr const char* kMultipleOfMessage = "Value should be a multiple of the schema's multipleOf.";

class MultipleOfConstraint final : public valijson::constraints::PolyConstraint {
public:
    explicit MultipleOfConstraint(double divisor) : divisor_(divisor) {}

    bool validate(const valijson::adapters::Adapter& target,
                  const std::vector<std::string>& context,
                  valijson::ValidationResults* results) const override {
        double value = 0;
        if (!target.isNumber() || !target.getNumber(value)) {
            return true;  // not a number: the `type` constraint reports it
        }
        const double quotient = value / divisor_;
        if (std::fabs(quotient - std::round(quotient)) < 1e-6) {
            return true;
        }
        if (results != nullptr) {
            results->pushError(context, kMultipleOfMessage);
        }
        return false;
    }

private:
    Constraint* cloneInto(void* memory) const override {
        return new (memory) MultipleOfConstraint(divisor_);
    }
    std::size_t sizeOf() const override { return sizeof(MultipleOfConstraint); }

    double divisor_;
};

class MultipleOfBuilder final : public valijson::ConstraintBuilder {
public:
    valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
        double divisor = 0;
        if (!value.getNumber(divisor) || !(divisor > 0)) {
            throw std::runtime_error("multipleOf must be a positive number");
        }
        return new MultipleOfConstraint(divisor);
    }
};

// Replaces the keywords valijson checks badly or slowly with the project's own: every
// `"format": "date-time"` and every `multipleOf`. Property *names* called "format" hold
// objects and are left alone.
void rewrite_keywords(json& node) {
    if (node.is_object()) {
        auto it = node.find("format");
        if (it != node.end() && it->is_string() && it->get_ref<const std::string&>() == "date-time") {
            node.erase(it);
            node[kDateTimeKeyword] = true;
        }
        it = node.find("multipleOf");
        if (it != node.end() && it->is_number()) {
            json divisor = *it;
            node.erase(it);
            node[kMultipleOfKeyword] = divisor;
        }
        for (auto& [key, child] : node.items()) {
            rewrite_keywords(child);
        }
    } else if (node.is_array()) {
        for (auto& child : node) {
            rewrite_keywords(child);
        }
    }
}

// valijson reports violations as text; this table turns them into OCPP categories. Wrapper
// messages ("Failed to validate against schema associated with property name ...") repeat a
// nested violation that was already reported, so they are skipped.
struct MessageRule {
    std::string_view prefix;
    std::optional<Errc> errc;  // nullopt: a wrapper, skip it
};

// clang-format off
const std::array<MessageRule, 20> kMessageRules = {{
    {"Value type not permitted by 'type' constraint",  Errc::type_violation},
    {"Value could not be converted",                   Errc::type_violation},
    {"Missing required property",                      Errc::occurrence_violation},
    {"Array should contain no fewer than",             Errc::occurrence_violation},
    {"Array should contain no more than",              Errc::occurrence_violation},
    {"Array contains more items than allowed",         Errc::occurrence_violation},
    {"Object should have no fewer than",               Errc::occurrence_violation},
    {"Object should have no more than",                Errc::occurrence_violation},
    {"Object contains a property that could not be",   Errc::property_violation},
    {"Failed to match against any enum values",        Errc::property_violation},
    {"Failed to match regex",                          Errc::property_violation},
    {"String should be no",                            Errc::property_violation},
    {"Expected number",                                Errc::property_violation},
    {"Value should be a multiple of",                  Errc::property_violation},
    {kDateTimeMessage,                                 Errc::format_violation},
    {kMultipleOfMessage,                               Errc::property_violation},
    {"Failed to validate against schema associated",   std::nullopt},
    {"Failed to validate item #",                      std::nullopt},
    {"Failed to validate against additional properties schema", std::nullopt},
    {"Cannot validate item #",                         std::nullopt},
}};
// clang-format on

std::optional<std::optional<Errc>> classify(const std::string& message) {
    for (const auto& rule : kMessageRules) {
        if (message.compare(0, rule.prefix.size(), rule.prefix) == 0) {
            return rule.errc;
        }
    }
    return std::nullopt;
}

std::string json_pointer(const std::vector<std::string>& context) {
    // valijson's context looks like {"<root>", "[meterValue]", "[0]", "[timestamp]"}.
    std::string path;
    for (std::size_t i = 1; i < context.size(); ++i) {
        std::string_view part = context[i];
        if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
            part = part.substr(1, part.size() - 2);
        }
        path += '/';
        path.append(part);
    }
    return path.empty() ? "/" : path;
}

// "urn:BootNotification.req" (1.6, 2.0.1) or "urn:BootNotificationRequest" (2.1) → the action
// and true for a request; "urn:NotifyPeriodicEventStream" (a 2.1 SEND's message) → a request.
std::optional<std::pair<std::string, bool>> schema_name(const std::string& id) {
    if (id.rfind("urn:", 0) != 0 || id.size() <= 4) {
        return std::nullopt;
    }
    const std::string name = id.substr(4);
    auto ends_with = [&name](std::string_view tail) {
        return name.size() > tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (const auto& [tail, request] : {std::pair<std::string_view, bool>{".req", true}, {".conf", false},
                                        {"Request", true}, {"Response", false}}) {
        if (ends_with(tail)) {
            return std::make_pair(name.substr(0, name.size() - tail.size()), request);
        }
    }
    if (name.find('.') == std::string::npos && find_action(ProtocolVersion::v21, name) != nullptr &&
        find_action(ProtocolVersion::v21, name)->rpc == Rpc::send) {
        return std::make_pair(name, true);
    }
    return std::nullopt;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read schema file " + path.string());
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

}  // namespace

struct SchemaRegistry::Entry {
    struct Compiled {
        std::unique_ptr<CompiledSchema> fast;      // when the schema fits the subset
        std::unique_ptr<valijson::Schema> general; // otherwise
        nlohmann::json document;                    // as written, for repairs (ocpp/repair.hpp)
    };
    std::unique_ptr<Compiled> request;
    std::unique_ptr<Compiled> response;
    bool request_overridden = false;
    bool response_overridden = false;
};

std::string ValidationResult::summary() const {
    std::string text;
    for (const auto& v : violations) {
        if (!text.empty()) {
            text += "; ";
        }
        text += v.path + ": " + v.message;
    }
    return text;
}

SchemaRegistry::SchemaRegistry(const std::filesystem::path& override_dir, Engine engine)
    : engine_(engine) {
    load(ProtocolVersion::v16, json::parse(embedded::ocpp16), "embedded ocpp1.6", false);
    load(ProtocolVersion::v201, json::parse(embedded::ocpp201), "embedded ocpp2.0.1", false);
    load(ProtocolVersion::v21, json::parse(embedded::ocpp21), "embedded ocpp2.1", false);
    if (override_dir.empty()) {
        return;
    }
    if (!std::filesystem::is_directory(override_dir)) {
        throw std::runtime_error("schema override directory " + override_dir.string() +
                                 " does not exist or is not a directory");
    }
    for (const ProtocolVersion v : kAllVersions) {
        const auto dir = override_dir / std::string(subprotocol(v));
        if (!std::filesystem::is_directory(dir)) {
            continue;
        }
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            if (entry.is_regular_file() && entry.path().extension() == ".json") {
                files.push_back(entry.path());
            }
        }
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            json doc;
            try {
                doc = json::parse(read_file(file));
            } catch (const json::exception& e) {
                throw std::runtime_error("schema file " + file.string() +
                                         " is not valid JSON: " + e.what());
            }
            load(v, doc.is_array() ? doc : json::array({doc}), file.string(), true);
        }
    }
}

SchemaRegistry::~SchemaRegistry() = default;

void SchemaRegistry::load(ProtocolVersion v, const json& schemas, const std::string& origin,
                          bool is_override) {
    if (!schemas.is_array()) {
        throw std::runtime_error(origin + ": expected an array of schemas");
    }
    Table& target = tables_[static_cast<std::size_t>(v)];
    for (const auto& original : schemas) {
        const auto id_it = original.find("$id");
        if (!original.is_object() || id_it == original.end() || !id_it->is_string()) {
            throw std::runtime_error(origin + ": a schema without a string \"$id\"");
        }
        const std::string id = id_it->get<std::string>();
        const auto named = schema_name(id);
        if (!named) {
            throw std::runtime_error(origin + ": $id \"" + id +
                                     "\" is not of the form urn:<Action>.req|conf or "
                                     "urn:<Action>Request|Response");
        }
        const auto& [action, request] = *named;
        const ActionInfo* info = find_action(v, action);
        if (info == nullptr) {
            throw std::runtime_error(origin + ": \"" + action + "\" is not an OCPP " +
                                     std::string(version_label(v)) + " action");
        }
        if (!request && info->rpc == Rpc::send) {
            throw std::runtime_error(origin + ": " + action + " is sent with SEND and has no response");
        }
        auto compiled = std::make_unique<Entry::Compiled>();
        try {
            if (engine_ == Engine::compiled) {
                compiled->fast = CompiledSchema::compile(original);
            }
            if (!compiled->fast) {
                json schema = original;
                rewrite_keywords(schema);
                compiled->general = std::make_unique<valijson::Schema>();
                valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
                parser.addConstraintBuilder(kDateTimeKeyword, new DateTimeBuilder());
                parser.addConstraintBuilder(kMultipleOfKeyword, new MultipleOfBuilder());
                valijson::adapters::NlohmannJsonAdapter adapter(schema);
                parser.populateSchema(adapter, *compiled->general);
            }
        } catch (const std::exception& e) {
            throw std::runtime_error(origin + ": schema " + id + " does not compile: " + e.what());
        }
        compiled->document = original;
        auto& entry = target[action];
        if (!entry) {
            entry = std::make_unique<Entry>();
        }
        (request ? entry->request : entry->response) = std::move(compiled);
        if (is_override) {
            bool& flag = request ? entry->request_overridden : entry->response_overridden;
            if (!flag) {
                flag = true;
                ++override_count_;
            }
        }
    }
}

const SchemaRegistry::Table& SchemaRegistry::table(ProtocolVersion v) const {
    return tables_[static_cast<std::size_t>(v)];
}

bool SchemaRegistry::has(ProtocolVersion v, std::string_view action, SchemaKind kind) const {
    const Table& t = table(v);
    const auto it = t.find(action);
    if (it == t.end()) {
        return false;
    }
    return kind == SchemaKind::request ? it->second->request != nullptr
                                       : it->second->response != nullptr;
}

const json* SchemaRegistry::document(ProtocolVersion v, std::string_view action,
                                     SchemaKind kind) const {
    const Table& t = table(v);
    const auto it = t.find(action);
    if (it == t.end()) {
        return nullptr;
    }
    const auto& compiled = kind == SchemaKind::request ? it->second->request : it->second->response;
    return compiled ? &compiled->document : nullptr;
}

std::optional<SchemaRegistry::Engine> SchemaRegistry::engine_of(ProtocolVersion v, std::string_view action,
                                                                SchemaKind kind) const {
    const Table& t = table(v);
    const auto it = t.find(action);
    if (it == t.end()) {
        return std::nullopt;
    }
    const auto& compiled = kind == SchemaKind::request ? it->second->request : it->second->response;
    if (!compiled) {
        return std::nullopt;
    }
    return compiled->fast ? Engine::compiled : Engine::general;
}

std::vector<std::string> SchemaRegistry::action_names(ProtocolVersion v) const {
    std::vector<std::string> names;
    for (const auto& [name, entry] : table(v)) {
        names.push_back(name);
    }
    return names;
}

ValidationResult SchemaRegistry::validate(ProtocolVersion v, std::string_view action,
                                          SchemaKind kind, const json& payload,
                                          std::size_t max_violations) const {
    ValidationResult result;
    const Table& t = table(v);
    const auto it = t.find(action);
    const Entry::Compiled* schema = nullptr;
    if (it != t.end()) {
        schema = kind == SchemaKind::request ? it->second->request.get()
                                             : it->second->response.get();
    }
    if (schema == nullptr) {
        result.violations.push_back(
            {Errc::unknown_action, "/", "no schema for " + std::string(action)});
        return result;
    }
    if (schema->fast) {
        schema->fast->validate(payload, result.violations, max_violations);
        return result;
    }

    valijson::adapters::NlohmannJsonAdapter target(payload);
    try {
        // Fast path: without a results object valijson stops at the first failure.
        valijson::Validator fast(valijson::Validator::kStrongTypes);
        if (fast.validate(*schema->general, target, nullptr)) {
            return result;
        }
        valijson::Validator full(valijson::Validator::kStrongTypes);
        valijson::ValidationResults details;
        full.validate(*schema->general, target, &details);
        valijson::ValidationResults::Error error;
        while (details.popError(error) && result.violations.size() < max_violations) {
            const auto category = classify(error.description);
            if (category && !category->has_value()) {
                continue;  // a wrapper around a nested violation
            }
            const Errc errc = category ? **category : Errc::property_violation;
            result.violations.push_back({errc, json_pointer(error.context), error.description});
        }
        if (result.violations.empty()) {
            result.violations.push_back({Errc::property_violation, "/", "payload is invalid"});
        }
    } catch (const std::exception& e) {
        result.violations.push_back({Errc::internal_error, "/", e.what()});
    }
    return result;
}

}  // namespace ocpp
