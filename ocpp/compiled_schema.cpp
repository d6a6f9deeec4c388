#include "ocpp/compiled_schema.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "ocpp/json_writer.hpp"
#include "ocpp/rfc3339.hpp"
#include "ocpp/schema_registry.hpp"

namespace ocpp {

using json = nlohmann::json;

namespace {

enum TypeBit : unsigned {
    kNull = 1U << 0U,
    kBoolean = 1U << 1U,
    kObject = 1U << 2U,
    kArray = 1U << 3U,
    kNumber = 1U << 4U,
    kString = 1U << 5U,
    kInteger = 1U << 6U,
};

const std::map<std::string, unsigned, std::less<>>& type_bits() {
    static const std::map<std::string, unsigned, std::less<>> bits = {
        {"null", kNull},     {"boolean", kBoolean}, {"object", kObject}, {"array", kArray},
        {"number", kNumber}, {"string", kString},   {"integer", kInteger},
    };
    return bits;
}

const std::set<std::string, std::less<>>& annotations() {
    static const std::set<std::string, std::less<>> keys = {
        "$id", "$schema", "$comment", "title", "description", "default", "examples",
        "javaType", "definitions", "additionalItems",
        // OCPP 2.1's schemas carry their licence as "comment" (not "$comment"): no keyword.
        "comment"};
    return keys;
}

bool matches_type(const json& v, unsigned types) {
    switch (v.type()) {
        case json::value_t::null:
            return (types & kNull) != 0;
        case json::value_t::boolean:
            return (types & kBoolean) != 0;
        case json::value_t::object:
            return (types & kObject) != 0;
        case json::value_t::array:
            return (types & kArray) != 0;
        case json::value_t::string:
            return (types & kString) != 0;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return (types & (kInteger | kNumber)) != 0;
        case json::value_t::number_float: {
            if ((types & kNumber) != 0) {
                return true;
            }
            // draft-07: an integer is any number without a fractional part.
            const double d = v.get<double>();
            return (types & kInteger) != 0 && std::isfinite(d) && std::floor(d) == d;
        }
        default:
            return false;
    }
}

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "integer";
        case json::value_t::number_float:
            return "number";
        default:
            return v.type_name();
    }
}

std::string format_number(double d) {
    json j = d;
    if (std::floor(d) == d && std::fabs(d) < 1e15) {
        j = static_cast<long long>(d);
    }
    return j.dump();
}

}  // namespace

struct CompiledSchema::Node {
    unsigned types = 0;  // 0: any
    std::vector<json> enumeration;
    bool string_enumeration = false;  // every allowed value is a string: compared as strings
    std::optional<json> constant;
    std::optional<std::size_t> min_length;
    std::optional<std::size_t> max_length;
    std::optional<double> minimum;
    std::optional<double> maximum;
    bool exclusive_minimum = false;
    bool exclusive_maximum = false;
    std::optional<double> multiple_of;
    bool date_time = false;
    struct Property {
        std::string name;
        const Node* schema;
        bool required;
    };
    std::vector<Property> properties;  // sorted by name
    std::vector<std::string> required;
    std::size_t required_properties = 0;  // properties whose name is in `required`
    bool required_all_properties = true;  // every name in `required` is among `properties`
    bool additional_allowed = true;
    const Node* additional = nullptr;  // schema for additional properties
    const Node* items = nullptr;
    std::optional<std::size_t> min_items;
    std::optional<std::size_t> max_items;
    const Node* ref = nullptr;  // $ref: validated in addition to the rest
};

using Node = CompiledSchema::Node;

class SchemaCompiler {
public:
    explicit SchemaCompiler(const json& root) : root_(root) {}

    std::unique_ptr<CompiledSchema> run() {
        out_.reset(new CompiledSchema());
        out_->root_ = compile(root_);
        if (unsupported_) {
            return nullptr;
        }
        return std::move(out_);
    }

private:
    const Node* definition(const std::string& ref) {
        const std::string prefix = "#/definitions/";
        if (ref.compare(0, prefix.size(), prefix) != 0) {
            unsupported_ = true;  // remote or other references: not in the subset
            return nullptr;
        }
        const std::string name = ref.substr(prefix.size());
        if (auto it = definitions_.find(name); it != definitions_.end()) {
            return it->second;
        }
        const auto defs = root_.find("definitions");
        if (defs == root_.end() || !defs->contains(name)) {
            throw std::runtime_error("$ref " + ref + " names no definition");
        }
        // Placeholder first, so a recursive definition refers to itself.
        Node& node = out_->nodes_.emplace_back();
        definitions_[name] = &node;
        fill(node, (*defs)[name]);
        return &node;
    }

    const Node* compile(const json& schema) {
        Node& node = out_->nodes_.emplace_back();
        fill(node, schema);
        return &node;
    }

    double number(const json& v, const char* keyword) {
        if (!v.is_number()) {
            throw std::runtime_error(std::string(keyword) + " must be a number");
        }
        return v.get<double>();
    }

    void fill(Node& node, const json& schema) {
        if (schema.is_boolean()) {
            if (!schema.get<bool>()) {
                unsupported_ = true;  // "false" schemas: not in the subset
            }
            return;
        }
        if (!schema.is_object()) {
            throw std::runtime_error("a schema must be an object");
        }
        // One bound per side here: both kinds on one side (only operators' schemas might)
        // are left to the general validator.
        if ((schema.contains("minimum") && schema.contains("exclusiveMinimum")) ||
            (schema.contains("maximum") && schema.contains("exclusiveMaximum"))) {
            unsupported_ = true;
        }
        for (const auto& [key, value] : schema.items()) {
            if (annotations().count(key) != 0) {
                continue;
            }
            if (key == "type") {
                const auto add = [&](const json& t) {
                    const auto it = t.is_string() ? type_bits().find(t.get<std::string>())
                                                  : type_bits().end();
                    if (it == type_bits().end()) {
                        throw std::runtime_error("unknown type " + t.dump());
                    }
                    node.types |= it->second;
                };
                if (value.is_array()) {
                    for (const auto& t : value) {
                        add(t);
                    }
                } else {
                    add(value);
                }
            } else if (key == "enum") {
                node.enumeration.assign(value.begin(), value.end());
                node.string_enumeration =
                    std::all_of(node.enumeration.begin(), node.enumeration.end(),
                                [](const json& e) { return e.is_string(); });
            } else if (key == "const") {
                node.constant = value;
            } else if (key == "minLength") {
                node.min_length = static_cast<std::size_t>(number(value, "minLength"));
            } else if (key == "maxLength") {
                node.max_length = static_cast<std::size_t>(number(value, "maxLength"));
            } else if (key == "minimum") {
                node.minimum = number(value, "minimum");
            } else if (key == "maximum") {
                node.maximum = number(value, "maximum");
            } else if (key == "exclusiveMinimum") {
                node.minimum = number(value, "exclusiveMinimum");
                node.exclusive_minimum = true;
            } else if (key == "exclusiveMaximum") {
                node.maximum = number(value, "exclusiveMaximum");
                node.exclusive_maximum = true;
            } else if (key == "multipleOf") {
                node.multiple_of = number(value, "multipleOf");
                if (!(*node.multiple_of > 0)) {
                    throw std::runtime_error("multipleOf must be positive");
                }
            } else if (key == "format") {
                node.date_time = value == "date-time";
            } else if (key == "properties") {
                for (const auto& [name, sub] : value.items()) {
                    node.properties.push_back(Node::Property{name, compile(sub), false});
                }
                std::sort(node.properties.begin(), node.properties.end(),
                          [](const auto& a, const auto& b) { return a.name < b.name; });
            } else if (key == "required") {
                for (const auto& r : value) {
                    node.required.push_back(r.get<std::string>());
                }
            } else if (key == "additionalProperties") {
                if (value.is_boolean()) {
                    node.additional_allowed = value.get<bool>();
                } else {
                    node.additional = compile(value);
                }
            } else if (key == "items") {
                if (!value.is_object()) {
                    unsupported_ = true;  // tuple form
                    continue;
                }
                node.items = compile(value);
            } else if (key == "minItems") {
                node.min_items = static_cast<std::size_t>(number(value, "minItems"));
            } else if (key == "maxItems") {
                node.max_items = static_cast<std::size_t>(number(value, "maxItems"));
            } else if (key == "$ref") {
                node.ref = definition(value.get<std::string>());
            } else {
                unsupported_ = true;
            }
        }
        mark_required(node);
    }

    // Flags the properties that are required, so that a valid object is checked in one pass.
    static void mark_required(Node& node) {
        node.required_properties = 0;
        node.required_all_properties = true;
        for (auto& property : node.properties) {
            property.required = std::find(node.required.begin(), node.required.end(),
                                          property.name) != node.required.end();
            node.required_properties += property.required ? 1 : 0;
        }
        for (const auto& name : node.required) {
            const bool known = std::any_of(node.properties.begin(), node.properties.end(),
                                           [&](const Node::Property& p) { return p.name == name; });
            node.required_all_properties = node.required_all_properties && known;
        }
    }

    const json& root_;
    std::unique_ptr<CompiledSchema> out_;
    std::map<std::string, const Node*> definitions_;
    bool unsupported_ = false;
};

namespace {

// Walks a value against a node. Where it is in the value is a stack of the keys and indexes
// passed on the way down; the path's text is written only for a violation.
class Walker {
public:
    Walker(std::vector<Violation>& out, std::size_t max) : out_(out), max_(max) {}

    bool full() const { return out_.size() >= max_; }

    void visit(const Node& node, const json& v) {
        if (full()) {
            return;
        }
        if (node.ref != nullptr) {
            visit(*node.ref, v);
        }
        if (node.types != 0 && !matches_type(v, node.types)) {
            add(Errc::type_violation, "value of type " + type_name(v) + " is not allowed here");
            return;  // further checks would only repeat the type problem
        }
        if (!node.enumeration.empty() && !allowed(node, v)) {
            add(Errc::property_violation, "value is not one of the allowed values");
        }
        if (node.constant && *node.constant != v) {
            add(Errc::property_violation, "value differs from the required constant");
        }
        switch (v.type()) {
            case json::value_t::string:
                visit_string(node, v.get_ref<const std::string&>());
                break;
            case json::value_t::number_integer:
            case json::value_t::number_unsigned:
            case json::value_t::number_float:
                visit_number(node, v.get<double>());
                break;
            case json::value_t::object:
                visit_object(node, v);
                break;
            case json::value_t::array:
                visit_array(node, v);
                break;
            default:
                break;
        }
    }

private:
    void visit_string(const Node& node, const std::string& s) {
        if (node.min_length || node.max_length) {
            const std::size_t n = utf8_characters(s);
            if (node.min_length && n < *node.min_length) {
                add(Errc::property_violation,
                    "string shorter than " + std::to_string(*node.min_length) + " characters");
            }
            if (node.max_length && n > *node.max_length) {
                add(Errc::property_violation,
                    "string longer than " + std::to_string(*node.max_length) + " characters");
            }
        }
        if (node.date_time && !is_rfc3339_date_time(s)) {
            add(Errc::format_violation, "string is not an RFC 3339 date-time");
        }
    }

    void visit_number(const Node& node, double d) {
        if (node.minimum &&
            (node.exclusive_minimum ? !(d > *node.minimum) : !(d >= *node.minimum))) {
            add(Errc::property_violation, std::string("number below ") +
                                              (node.exclusive_minimum ? "or at " : "") +
                                              "the minimum " + format_number(*node.minimum));
        }
        if (node.maximum &&
            (node.exclusive_maximum ? !(d < *node.maximum) : !(d <= *node.maximum))) {
            add(Errc::property_violation, std::string("number above ") +
                                              (node.exclusive_maximum ? "or at " : "") +
                                              "the maximum " + format_number(*node.maximum));
        }
        if (node.multiple_of) {
            const double q = d / *node.multiple_of;
            if (std::fabs(q - std::round(q)) >= 1e-6) {
                add(Errc::property_violation,
                    "number is not a multiple of " + format_number(*node.multiple_of));
            }
        }
    }

    static bool allowed(const Node& node, const json& v) {
        if (!node.string_enumeration) {
            return std::find(node.enumeration.begin(), node.enumeration.end(), v) !=
                   node.enumeration.end();
        }
        if (!v.is_string()) {
            return false;
        }
        const auto& s = v.get_ref<const std::string&>();
        return std::any_of(node.enumeration.begin(), node.enumeration.end(),
                           [&](const json& e) { return e.get_ref<const std::string&>() == s; });
    }

    void visit_object(const Node& node, const json& v) {
        const std::size_t mark = out_.size();
        const std::size_t required_seen = visit_members(node, v);
        if (required_seen == node.required_properties && node.required_all_properties) {
            return;
        }
        // Something required may be missing. Missing properties are reported first: when one
        // is, the members' violations are set aside and found again after them.
        bool missing = false;
        for (const auto& name : node.required) {
            if (v.find(name) == v.end()) {
                if (!missing) {
                    out_.resize(mark);
                    missing = true;
                }
                add(Errc::occurrence_violation, "required property '" + name + "' is missing");
                if (full()) {
                    return;
                }
            }
        }
        if (missing) {
            visit_members(node, v);
        }
    }

    // Visits each member against its property's schema (or the additional one); returns how
    // many required properties were among them. Both sequences are sorted by name: one merge.
    std::size_t visit_members(const Node& node, const json& v) {
        std::size_t required_seen = 0;
        auto p = node.properties.begin();
        const auto end = node.properties.end();
        for (auto it = v.begin(); it != v.end() && !full(); ++it) {
            const std::string& key = it.key();
            int order = 1;
            while (p != end && (order = p->name.compare(key)) < 0) {
                ++p;
            }
            where_.push_back(Step{&key, 0});
            if (p != end && order == 0) {
                required_seen += p->required ? 1 : 0;
                visit(*p->schema, it.value());
            } else if (node.additional != nullptr) {
                visit(*node.additional, it.value());
            } else if (!node.additional_allowed) {
                add(Errc::property_violation, "property is not allowed here");
            }
            where_.pop_back();
        }
        return required_seen;
    }

    void visit_array(const Node& node, const json& v) {
        if (node.min_items && v.size() < *node.min_items) {
            add(Errc::occurrence_violation,
                "array has fewer than " + std::to_string(*node.min_items) + " items");
        }
        if (node.max_items && v.size() > *node.max_items) {
            add(Errc::occurrence_violation,
                "array has more than " + std::to_string(*node.max_items) + " items");
        }
        if (node.items == nullptr) {
            return;
        }
        for (std::size_t i = 0; i < v.size() && !full(); ++i) {
            where_.push_back(Step{nullptr, i});
            visit(*node.items, v[i]);
            where_.pop_back();
        }
    }

    // A JSON Pointer (RFC 6901) to where the walk is; "/" for the root.
    std::string path() const {
        if (where_.empty()) {
            return "/";
        }
        std::string out;
        for (const Step& step : where_) {
            out += '/';
            if (step.key == nullptr) {
                out += std::to_string(step.index);
                continue;
            }
            for (const char c : *step.key) {
                if (c == '~') {
                    out += "~0";
                } else if (c == '/') {
                    out += "~1";
                } else {
                    out += c;
                }
            }
        }
        return out;
    }

    void add(Errc errc, std::string message) {
        if (!full()) {
            out_.push_back(Violation{errc, path(), std::move(message)});
        }
    }

    struct Step {
        const std::string* key;  // an object's member, or nullptr for an array's item
        std::size_t index;
    };

    std::vector<Violation>& out_;
    std::size_t max_;
    std::vector<Step> where_;
};

}  // namespace

CompiledSchema::CompiledSchema() = default;
CompiledSchema::~CompiledSchema() = default;

std::unique_ptr<CompiledSchema> CompiledSchema::compile(const json& schema) {
    return SchemaCompiler(schema).run();
}

bool CompiledSchema::validate(const json& value, std::vector<Violation>& out,
                              std::size_t max) const {
    const std::size_t before = out.size();
    Walker walker(out, before + std::max<std::size_t>(max, 1));
    walker.visit(*root_, value);
    return out.size() == before;
}

}  // namespace ocpp
