#include "ocpp/repair.hpp"

#include <array>
#include <cmath>

#include "ocpp/rfc3339.hpp"

namespace ocpp {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, kRepairRuleCount> kRuleNames = {
    "timestamp-without-offset", "unknown-properties", "enum-case",
    "number-as-string",         "string-as-number",   "empty-optional"};

// A `$ref` chain longer than this is a loop (the official schemas nest one or two deep).
constexpr int kMaxRefHops = 16;

/// The schema node `node` stands for, with local `$ref`s followed; null for a broken one.
const json* resolve(const json& root, const json* node) {
    for (int hops = 0; node != nullptr && node->is_object(); ++hops) {
        const auto ref = node->find("$ref");
        if (ref == node->end()) {
            return node;
        }
        if (hops == kMaxRefHops || !ref->is_string()) {
            return nullptr;
        }
        const std::string& target = ref->get_ref<const std::string&>();
        if (target.rfind("#/", 0) != 0) {
            return nullptr;
        }
        const json::json_pointer pointer(target.substr(1));
        node = root.contains(pointer) ? &root.at(pointer) : nullptr;
    }
    return node;
}

/// Whether the node's `type` names `type` (a node without `type` names none).
bool has_type(const json& node, std::string_view type) {
    const auto t = node.find("type");
    if (t == node.end()) {
        return false;
    }
    if (t->is_string()) {
        return t->get_ref<const std::string&>() == type;
    }
    if (t->is_array()) {
        for (const auto& item : *t) {
            if (item.is_string() && item.get_ref<const std::string&>() == type) {
                return true;
            }
        }
    }
    return false;
}

bool wants_number(const json& node) { return has_type(node, "number") || has_type(node, "integer"); }

bool is_date_time(const json& node) {
    const auto f = node.find("format");
    return f != node.end() && f->is_string() && f->get_ref<const std::string&>() == "date-time";
}

bool in_enum(const json& values, const json& value) {
    for (const auto& v : values) {
        if (v == value) {
            return true;
        }
    }
    return false;
}

/// Whether `node` refuses the empty string for a reason this repair may name.
bool refuses_empty_string(const json& node) {
    if (const auto e = node.find("enum"); e != node.end() && e->is_array()) {
        return !in_enum(*e, json(""));
    }
    if (is_date_time(node)) {
        return true;
    }
    if (const auto m = node.find("minLength"); m != node.end() && m->is_number() && m->get<double>() >= 1) {
        return true;
    }
    return node.contains("type") && !has_type(node, "string");
}

std::string enum_key(std::string_view text) {
    std::string key;
    key.reserve(text.size());
    for (const char c : text) {
        if (c == '-' || c == '_' || c == ' ' || c == '.') {
            continue;
        }
        key.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    return key;
}

/// False for a float of 2^53 or more: an integer literal past 2^64 is read as one, and its
/// digits past the 17th are gone (100000000000000000001 reads as 1e20). Integers are exact; a
/// fraction with more than 17 significant digits is rounded, as any JSON reader rounds it.
bool digits_kept(const json& number) {
    return !number.is_number_float() || std::fabs(number.get<double>()) < 9007199254740992.0;
}

/// A string that is exactly one JSON number (an integer when `integer`) whose digits reading
/// it kept.
std::optional<json> number_of(const std::string& text, bool integer) {
    if (text.empty() || text.find_first_of(" \t\r\n") != std::string::npos) {
        return std::nullopt;
    }
    json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_number() || (integer && !parsed.is_number_integer()) ||
        !digits_kept(parsed)) {
        return std::nullopt;
    }
    return parsed;
}

std::string pointer_token(const std::string& key) {
    std::string token;
    for (const char c : key) {
        if (c == '~') {
            token += "~0";
        } else if (c == '/') {
            token += "~1";
        } else {
            token.push_back(c);
        }
    }
    return token;
}

class Repairer {
public:
    Repairer(const json& root, const RepairPolicy& policy) : root_(root), policy_(policy) {}

    void walk(const json* schema_node, json& value, const std::string& path, int depth) {
        const json* node = resolve(root_, schema_node);
        if (node == nullptr || !node->is_object() || depth > kMaxDepth) {
            return;
        }
        if (value.is_string()) {
            repair_string(*node, value, path);
        } else if (value.is_number()) {
            // A number whose digits were lost in reading is left for the validator to refuse.
            if (!wants_number(*node) && has_type(*node, "string") &&
                policy_.allows(RepairRule::string_as_number) && digits_kept(value)) {
                json from = value;
                value = value.dump();
                note(RepairRule::string_as_number, path, std::move(from), value);
            }
        } else if (value.is_object()) {
            repair_object(*node, value, path, depth);
        } else if (value.is_array()) {
            const auto items = node->find("items");
            if (items != node->end() && items->is_object()) {
                for (std::size_t i = 0; i < value.size(); ++i) {
                    walk(&*items, value[i], path + "/" + std::to_string(i), depth + 1);
                }
            }
        }
    }

    std::vector<Repair> take() { return std::move(repairs_); }

private:
    static constexpr int kMaxDepth = 64;

    void note(RepairRule rule, const std::string& path, json from, std::optional<json> to) {
        repairs_.push_back(Repair{rule, path, std::move(from), std::move(to)});
    }

    void repair_string(const json& node, json& value, const std::string& path) {
        const std::string& text = value.get_ref<const std::string&>();
        if (wants_number(node) && !has_type(node, "string")) {
            if (policy_.allows(RepairRule::number_as_string)) {
                if (auto number = number_of(text, !has_type(node, "number"))) {
                    json from = value;
                    value = std::move(*number);
                    note(RepairRule::number_as_string, path, std::move(from), value);
                }
            }
            return;
        }
        if (const auto e = node.find("enum"); e != node.end() && e->is_array()) {
            if (policy_.allows(RepairRule::enum_case) && !in_enum(*e, value)) {
                const std::string key = enum_key(text);
                const json* match = nullptr;
                int matches = 0;
                for (const auto& candidate : *e) {
                    if (candidate.is_string() && enum_key(candidate.get_ref<const std::string&>()) == key) {
                        match = &candidate;
                        ++matches;
                    }
                }
                if (matches == 1) {
                    json from = value;
                    value = *match;
                    note(RepairRule::enum_case, path, std::move(from), value);
                }
            }
            return;
        }
        if (is_date_time(node) && policy_.allows(RepairRule::timestamp_without_offset) &&
            !is_rfc3339_date_time(text)) {
            if (auto utc = local_date_time_to_utc(text, policy_.assume_offset_minutes)) {
                json from = value;
                value = std::move(*utc);
                note(RepairRule::timestamp_without_offset, path, std::move(from), value);
            }
        }
    }

    void repair_object(const json& node, json& value, const std::string& path, int depth) {
        const auto properties = node.find("properties");
        const bool closed = node.contains("additionalProperties") && node["additionalProperties"] == false;
        const auto required = node.find("required");
        auto is_required = [&](const std::string& key) {
            return required != node.end() && required->is_array() && in_enum(*required, json(key));
        };
        std::vector<std::string> keys;
        keys.reserve(value.size());
        for (const auto& item : value.items()) {
            keys.push_back(item.key());
        }
        for (const auto& key : keys) {
            const std::string child_path = path + "/" + pointer_token(key);
            const json* child_schema = nullptr;
            if (properties != node.end() && properties->is_object()) {
                if (const auto p = properties->find(key); p != properties->end()) {
                    child_schema = &*p;
                }
            }
            json& child = value[key];
            if (child_schema == nullptr) {
                if (closed && policy_.allows(RepairRule::unknown_properties)) {
                    note(RepairRule::unknown_properties, child_path, std::move(child), std::nullopt);
                    value.erase(key);
                }
                continue;
            }
            if (child.is_string() && child.get_ref<const std::string&>().empty() && !is_required(key) &&
                policy_.allows(RepairRule::empty_optional)) {
                const json* resolved = resolve(root_, child_schema);
                if (resolved != nullptr && resolved->is_object() && refuses_empty_string(*resolved)) {
                    note(RepairRule::empty_optional, child_path, std::move(child), std::nullopt);
                    value.erase(key);
                    continue;
                }
            }
            walk(child_schema, child, child_path, depth + 1);
        }
    }

    const json& root_;
    const RepairPolicy& policy_;
    std::vector<Repair> repairs_;
};

}  // namespace

std::string_view repair_rule_name(RepairRule rule) { return kRuleNames[static_cast<std::size_t>(rule)]; }

std::optional<RepairRule> parse_repair_rule(std::string_view name) {
    for (std::size_t i = 0; i < kRuleNames.size(); ++i) {
        if (kRuleNames[i] == name) {
            return static_cast<RepairRule>(i);
        }
    }
    return std::nullopt;
}

std::vector<Repair> repair_payload(const json& schema, json& payload, const RepairPolicy& policy) {
    Repairer repairer(schema, policy);
    repairer.walk(&schema, payload, "", 0);
    return repairer.take();
}

nlohmann::json repairs_json(const std::vector<Repair>& repairs) {
    json out = json::array();
    for (const auto& r : repairs) {
        json item = {{"rule", repair_rule_name(r.rule)}, {"path", r.path}, {"from", r.from}};
        if (r.to) {
            item["to"] = *r.to;
        }
        out.push_back(std::move(item));
    }
    return out;
}

}  // namespace ocpp
