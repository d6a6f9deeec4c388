#include "gateway/session/tolerance.hpp"

#include <algorithm>

#include "ocpp/types.hpp"

namespace gateway::session {
namespace {

/// The string at `key`, at most kMaxModelFieldBytes long, not cut inside a UTF-8 sequence.
std::string string_at(const nlohmann::json& object, const char* key) {
    if (!object.is_object()) {
        return {};
    }
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
        return {};
    }
    const auto& s = it->get_ref<const std::string&>();
    std::size_t n = std::min(s.size(), kMaxModelFieldBytes);
    while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) {
        --n;  // s[n] continues the character before it
    }
    return s.substr(0, n);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

nlohmann::json StationModel::to_json() const {
    return {{"vendor", vendor}, {"model", model}, {"firmware", firmware}};
}

StationModel boot_model(ocpp::ProtocolVersion v, const nlohmann::json& payload) {
    if (v == ocpp::ProtocolVersion::v16) {
        return {string_at(payload, "chargePointVendor"), string_at(payload, "chargePointModel"),
                string_at(payload, "firmwareVersion")};
    }
    static const nlohmann::json kNone;
    const auto station = payload.is_object() ? payload.find("chargingStation") : payload.end();
    const nlohmann::json& s = payload.is_object() && station != payload.end() ? *station : kNone;
    return {string_at(s, "vendorName"), string_at(s, "model"), string_at(s, "firmwareVersion")};
}

bool glob_match(std::string_view pattern, std::string_view text) {
    // Iterative matching with one backtrack point: linear in practice, no recursion.
    std::size_t p = 0;
    std::size_t t = 0;
    std::size_t star = std::string_view::npos;
    std::size_t resume = 0;
    while (t < text.size()) {
        // A '*' is a wildcard first, also where the text has a '*' (station ids may).
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = t;
        } else if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
            ++p;
            ++t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') {
        ++p;
    }
    return p == pattern.size();
}

const config::ToleranceProfile* match_profile(const std::vector<config::ToleranceProfile>& profiles,
                                              std::string_view station_id, const StationModel& model) {
    for (const auto& profile : profiles) {
        const bool needs_model = !profile.vendor.empty() || !profile.model.empty() || !profile.firmware.empty();
        if (needs_model && !model.known()) {
            // Not booted on this instance (it reconnected from another): a profile that names
            // ids as well is matched by them alone until the station boots.
            if (!profile.id.empty() && glob_match(profile.id, station_id)) {
                return &profile;
            }
            continue;
        }
        if ((profile.id.empty() || glob_match(profile.id, station_id)) &&
            (profile.vendor.empty() || glob_match(profile.vendor, model.vendor)) &&
            (profile.model.empty() || glob_match(profile.model, model.model)) &&
            (profile.firmware.empty() || glob_match(profile.firmware, model.firmware))) {
            return &profile;
        }
    }
    return nullptr;
}

void BootModels::remember(const std::string& station_id, StationModel model) {
    const std::lock_guard lock(mutex_);
    models_[ocpp::ascii_lower(station_id)] = std::move(model);
}

std::optional<StationModel> BootModels::find(const std::string& station_id) const {
    const std::lock_guard lock(mutex_);
    const auto it = models_.find(ocpp::ascii_lower(station_id));
    if (it == models_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void ViolationTally::count(const StationModel* model, const std::set<std::string_view>& rules, bool valid) {
    std::pair<std::string, std::string> key;
    if (model != nullptr) {
        key = {model->vendor, model->model};
    }
    const std::lock_guard lock(mutex_);
    if (rows_.count(key) == 0 && rows_.size() >= kMaxModels) {
        key = {"other", "other"};
    }
    Row& row = rows_[key];
    if (row.refused == 0) {
        row.vendor = key.first;
        row.model = key.second;
    }
    ++row.refused;
    if (model != nullptr && !model->firmware.empty() && row.firmware.size() < kMaxFirmware) {
        row.firmware.insert(model->firmware);
    }
    if (valid) {
        ++row.repairable;
    } else {
        ++row.kinds["unrepairable"];
    }
    for (const auto rule : rules) {
        ++row.kinds[std::string(rule)];
    }
}

std::vector<ViolationTally::Row> ViolationTally::take() {
    std::map<std::pair<std::string, std::string>, Row> rows;
    {
        const std::lock_guard lock(mutex_);
        rows.swap(rows_);
    }
    std::vector<Row> out;
    out.reserve(rows.size());
    for (auto& [key, row] : rows) {
        out.push_back(std::move(row));
    }
    return out;
}

std::string ViolationTally::Row::to_record(std::string_view gateway_id, std::string_view from,
                                           std::string_view to) const {
    return nlohmann::json{{"gatewayId", gateway_id},
                          {"from", from},
                          {"to", to},
                          {"vendor", vendor},
                          {"model", model},
                          {"firmware", firmware},
                          {"refused", refused},
                          {"repairable", repairable},
                          {"kinds", kinds}}
        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gateway::session
