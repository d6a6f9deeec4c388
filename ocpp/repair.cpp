#include "ocpp/repair.hpp"

#include <array>
#include <cstdio>

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

bool digits(std::string_view s, std::size_t pos, std::size_t count, int& out) {
    if (pos + count > s.size()) {
        return false;
    }
    int value = 0;
    for (std::size_t i = pos; i < pos + count; ++i) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (s[i] - '0');
    }
    out = value;
    return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date, and back (civil calendar arithmetic
// on 400-year eras).
std::int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = static_cast<int>(y - era * 400);
    const int doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void civil_from_days(std::int64_t z, int& y, int& m, int& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int doe = static_cast<int>(z - era * 146097);
    const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = static_cast<int>(yoe + era * 400) + (m <= 2 ? 1 : 0);
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]` read at `offset_minutes` east of UTC, written in UTC with the
/// same fraction; nullopt when `text` is not exactly that shape or names no real moment.
std::optional<std::string> to_utc(std::string_view text, int offset_minutes) {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (text.size() < 19 || !digits(text, 0, 4, year) || text[4] != '-' || !digits(text, 5, 2, month) ||
        text[7] != '-' || !digits(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
        !digits(text, 11, 2, hour) || text[13] != ':' || !digits(text, 14, 2, minute) ||
        text[16] != ':' || !digits(text, 17, 2, second)) {
        return std::nullopt;
    }
    std::string_view fraction = text.substr(19);
    if (!fraction.empty()) {
        if (fraction.size() < 2 || fraction[0] != '.' ||
            fraction.find_first_not_of("0123456789", 1) != std::string_view::npos) {
            return std::nullopt;
        }
    }
    // The same checks as a full date-time, by asking the validator about the UTC spelling.
    std::string utc_spelling(text);
    utc_spelling += 'Z';
    if (!is_rfc3339_date_time(utc_spelling) || second == 60) {
        return std::nullopt;  // a leap second cannot be moved to another minute safely
    }
    std::int64_t minutes = days_from_civil(year, month, day) * 1440 + hour * 60 + minute - offset_minutes;
    const std::int64_t days = minutes >= 0 ? minutes / 1440 : (minutes - 1439) / 1440;
    minutes -= days * 1440;
    civil_from_days(days, year, month, day);
    if (year < 0 || year > 9999) {
        return std::nullopt;
    }
    char buffer[80];
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day,
                  static_cast<int>(minutes / 60), static_cast<int>(minutes % 60), second);
    std::string out(buffer);
    out += fraction;
    out += 'Z';
    return out;
}

/// A string that is exactly one JSON number (an integer when `integer`).
std::optional<json> number_of(const std::string& text, bool integer) {
    if (text.empty() || text.find_first_of(" \t\r\n") != std::string::npos) {
        return std::nullopt;
    }
    json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_number() || (integer && !parsed.is_number_integer())) {
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
            if (!wants_number(*node) && has_type(*node, "string") &&
                policy_.allows(RepairRule::string_as_number)) {
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
            if (auto utc = to_utc(text, policy_.assume_offset_minutes)) {
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

std::optional<int> parse_utc_offset(std::string_view text) {
    if (text == "Z" || text == "z") {
        return 0;
    }
    int hours = 0;
    int minutes = 0;
    if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || !digits(text, 1, 2, hours) ||
        text[3] != ':' || !digits(text, 4, 2, minutes) || hours > 23 || minutes > 59) {
        return std::nullopt;
    }
    const int total = hours * 60 + minutes;
    return text[0] == '-' ? -total : total;
}

}  // namespace ocpp
