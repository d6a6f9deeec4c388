#include "gateway/app/tolerance_command.hpp"

#include <chrono>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/record_json.hpp"

namespace gateway::app {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// How long the topic may stay silent before its end is taken as unreachable.
constexpr auto kReadTimeout = 15s;

std::string string_of(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// A glob that matches `text` exactly (our globs have no escape: `*` and `?` become `?`,
/// which matches them).
std::string literal_glob(const std::string& text) {
    std::string out = text;
    for (char& c : out) {
        if (c == '*') {
            c = '?';
        }
    }
    return out;
}

/// A profile name from vendor and model: lower-case letters, digits and single dashes.
std::string profile_name(const std::string& vendor, const std::string& model) {
    std::string name;
    for (const char raw : vendor + "-" + model) {
        const char c = raw >= 'A' && raw <= 'Z' ? static_cast<char>(raw - 'A' + 'a') : raw;
        const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (keep) {
            name.push_back(c);
        } else if (!name.empty() && name.back() != '-') {
            name.push_back('-');
        }
    }
    while (!name.empty() && name.back() == '-') {
        name.pop_back();
    }
    name = name.substr(0, 56);
    return name.empty() ? "station-model" : name;
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
std::string quoted(const std::string& text) { return json(text).dump(-1, ' ', false, json::error_handler_t::replace); }

std::string joined(const std::set<std::string>& items, std::size_t max) {
    std::string out;
    std::size_t n = 0;
    for (const auto& item : items) {
        if (n == max) {
            return out + fmt::format(", … ({} in all)", items.size());
        }
        out += (n++ == 0 ? "" : ", ") + quoted(item);  // station text: a line break stays in the comment
    }
    return out;
}

}  // namespace

void ToleranceSuggestion::add(const json& dead_letter) {
    if (!dead_letter.is_object()) {
        return;
    }
    const auto would = dead_letter.find("wouldRepair");
    if (would == dead_letter.end() || !would->is_object()) {
        return;
    }
    ++refusals_;
    const auto model_it = dead_letter.find("stationModel");
    Model* m = &unknown_;
    std::string firmware;
    if (model_it != dead_letter.end() && model_it->is_object()) {
        const std::string vendor = string_of(*model_it, "vendor");
        const std::string model = string_of(*model_it, "model");
        if (!vendor.empty() || !model.empty()) {
            m = &models_[{vendor, model}];
            firmware = string_of(*model_it, "firmware");
        }
    }
    ++m->refused;
    if (!firmware.empty()) {
        m->firmware.insert(firmware);
    }
    const std::string station = string_of(dead_letter, "stationId");
    if (!station.empty()) {
        m->stations.insert(station);
    }
    const auto valid = would->find("valid");
    const auto rules = would->find("rules");
    if (valid == would->end() || *valid != true || rules == would->end() || !rules->is_array()) {
        return;
    }
    ++m->repairable;
    for (const auto& rule : *rules) {
        if (rule.is_string() && ocpp::parse_repair_rule(rule.get<std::string>())) {
            ++m->rules[rule.get<std::string>()];
        }
    }
}

std::string ToleranceSuggestion::yaml(const std::string& source) const {
    std::string out = fmt::format("# {} schema refusals read from {}.\n", refusals_, source);
    std::string profiles;
    std::string broader;  // profiles with an empty vendor or model
    std::set<std::string> names;
    for (const auto& [key, m] : models_) {
        const auto& [vendor, model] = key;
        std::string counts;
        for (const auto& [rule, n] : m.rules) {
            counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", rule, n);
        }
        out += fmt::format("# {} {} (firmware {}; {} station(s)): {} refused, {} repairable{}{}\n",
                           quoted(vendor), quoted(model), m.firmware.empty() ? "unknown" : joined(m.firmware, 5),
                           m.stations.size(), m.refused, m.repairable,
                           counts.empty() ? "" : " by " + counts,
                           m.refused > m.repairable
                               ? fmt::format("; {} no profile can repair", m.refused - m.repairable)
                               : "");
        if (m.repairable == 0) {
            continue;
        }
        std::string name = profile_name(vendor, model);
        for (int n = 2; !names.insert(name).second; ++n) {
            name = profile_name(vendor, model) + "-" + std::to_string(n);
        }
        std::string allow;
        for (const auto& [rule, n] : m.rules) {
            allow += (allow.empty() ? "" : ", ") + rule;
        }
        // A field the boot left empty is left out: the configuration refuses an empty pattern.
        std::string match;
        if (!vendor.empty()) {
            match = "vendor: " + quoted(literal_glob(vendor));
        }
        if (!model.empty()) {
            match += (match.empty() ? "" : ", ") + std::string("model: ") + quoted(literal_glob(model));
        }
        // The first matching profile wins: one that names a vendor or a model alone would take
        // the stations of the models named in full as well, so it comes after them.
        std::string& to = vendor.empty() || model.empty() ? broader : profiles;
        to += fmt::format("    - name: {}\n      match: {{{}}}\n      allow: [{}]\n", name, match, allow);
        if (m.rules.count("timestamp-without-offset") != 0) {
            to += "      assume_offset: \"+00:00\"   # the offset these stations' clocks run at\n";
        }
    }
    profiles += broader;
    if (unknown_.refused != 0) {
        out += fmt::format("# {} refused from stations whose model is not known (no BootNotification seen): {} — "
                           "match them by id\n",
                           unknown_.refused, joined(unknown_.stations, 5));
    }
    if (profiles.empty()) {
        return out + "# No refusals that a tolerance profile could repair.\n";
    }
    return out + "tolerance:\n  profiles:\n" + profiles;
}

namespace {

/// Reads `topic` from its beginning to its end into `suggestion`; an error message or empty.
std::string read_dead_letters(const config::Config& config, const std::string& topic,
                              ToleranceSuggestion& suggestion) {
    kafka_bridge::ConsumerConfig settings = config::consumer_config(config);
    settings.log = [](int, const char*, const char*) {};  // errors come back as results
    auto created = kafka_bridge::Consumer::create(settings);
    if (!created.ok()) {
        return created.error().to_string();
    }
    auto& consumer = *created.value();
    auto marks = consumer.assign_all({{topic, kafka_bridge::Consumer::Start::beginning}}, kReadTimeout);
    if (!marks.ok()) {
        return marks.error().to_string();
    }
    kafka_bridge::ReadToEnd behind(marks.value());
    auto quiet_since = std::chrono::steady_clock::now();
    while (!behind.done()) {
        auto message = consumer.poll(200ms);
        behind.after_poll(consumer, message ? &*message : nullptr);
        if (!message) {
            if (!behind.done() && std::chrono::steady_clock::now() - quiet_since > kReadTimeout) {
                const auto last = consumer.last_error();
                return fmt::format("{}: stopped {} partition(s) short of the end{}", topic, behind.behind(),
                                   last ? ": " + last->to_string() : std::string());
            }
            continue;
        }
        quiet_since = std::chrono::steady_clock::now();
        if (message->value) {
            suggestion.add(kafka_bridge::parse_record_json(*message->value));
        }
    }
    consumer.close();
    return {};
}

}  // namespace

int run_tolerance_command(const config::Config& config, const std::string& verb, std::FILE* out,
                          std::FILE* err) {
    if (verb != "suggest") {
        fmt::print(err, "ocpp-gateway tolerance: unknown verb \"{}\" (suggest)\n", verb);
        return 2;
    }
    std::vector<std::pair<std::string, config::Config>> sources;  // label, its configuration
    if (config.tenants.empty()) {
        sources.emplace_back(config.topics.dead_letter, config);
    } else {
        for (const auto& tenant : config.tenants) {
            config::Config c = config::tenant_config(config, tenant);
            sources.emplace_back(fmt::format("{} (tenant {})", c.topics.dead_letter, tenant.name), c);
        }
    }
    for (const auto& [label, c] : sources) {
        ToleranceSuggestion suggestion;
        if (std::string error = read_dead_letters(c, c.topics.dead_letter, suggestion); !error.empty()) {
            fmt::print(err, "ocpp-gateway tolerance suggest: cannot read {} at {}: {}\n", label,
                       c.kafka.brokers, error);
            return 2;
        }
        fmt::print(out, "{}{}", &label == &sources.front().first ? "" : "\n", suggestion.yaml(label));
    }
    return 0;
}

}  // namespace gateway::app
