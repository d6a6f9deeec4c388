#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"
#include "ocpp/version.hpp"

namespace gateway::session {

/// What a station's BootNotification says it is.
struct StationModel {
    std::string vendor;
    std::string model;
    std::string firmware;

    bool known() const { return !vendor.empty() || !model.empty(); }
    /// {vendor, model, firmware} for records (dead letters).
    nlohmann::json to_json() const;
};

/// The longest vendor, model or firmware kept from a boot (see boot_model).
inline constexpr std::size_t kMaxModelFieldBytes = 200;

/// The vendor, model and firmware a BootNotification payload names: 1.6 chargePointVendor,
/// chargePointModel, firmwareVersion; 2.0.1 chargingStation.vendorName, .model,
/// .firmwareVersion. Read before validation (a profile may be what makes the boot valid);
/// a field that is missing or not a string stays empty, and one longer than
/// kMaxModelFieldBytes is cut there (at a character's start): the schemas allow 20 to 50
/// characters (200 bytes of UTF-8 at most), and the model goes into every dead letter, log
/// line and metric label of the station, so a boot's 200 KB vendor name must not.
StationModel boot_model(ocpp::ProtocolVersion v, const nlohmann::json& payload);

/// `pattern` with `*` (any run) and `?` (one character), ignoring ASCII letter case.
bool glob_match(std::string_view pattern, std::string_view text);

/// The first profile matching the station; null: strict. A profile naming vendor, model or
/// firmware matches only a station whose model is known.
const config::ToleranceProfile* match_profile(const std::vector<config::ToleranceProfile>& profiles,
                                              std::string_view station_id, const StationModel& model);

/// The model each station last booted as on this instance, so that a station reconnecting
/// without a BootNotification keeps its profile. Thread-safe.
class BootModels {
public:
    void remember(const std::string& station_id, StationModel model);
    std::optional<StationModel> find(const std::string& station_id) const;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, StationModel> models_;  // by lower-case identity
};

/// Schema refusals per station model since the last take(): what each instance writes to
/// topics.violations every tolerance.report_interval_s. Thread-safe.
class ViolationTally {
public:
    struct Row {
        std::string vendor;  ///< empty with model: the station never booted here
        std::string model;
        std::set<std::string> firmware;  ///< at most kMaxFirmware
        std::uint64_t refused = 0;
        std::uint64_t repairable = 0;  ///< the repairs, all allowed, would make them valid
        std::map<std::string, std::uint64_t> kinds;  ///< repair rule (or "unrepairable") → count

        /// The record (schemas/events/schema-violations.schema.json) for [from, to].
        std::string to_record(std::string_view gateway_id, std::string_view from, std::string_view to) const;
        std::string key() const { return vendor + "/" + model; }
    };
    /// Models counted apart per interval; the rest share vendor and model "other".
    static constexpr std::size_t kMaxModels = 1000;
    static constexpr std::size_t kMaxFirmware = 20;

    /// One refusal of a station of `model` (null: not known); `rules` the repairs that would
    /// apply, `valid` whether all of them would make it valid.
    void count(const StationModel* model, const std::set<std::string_view>& rules, bool valid);
    /// The rows since the last take(), emptied.
    std::vector<Row> take();

private:
    std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, Row> rows_;
};

}  // namespace gateway::session
