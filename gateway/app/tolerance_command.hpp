#pragma once

#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"

namespace gateway::app {

/// What a fleet's dead letters say about the tolerance profiles it needs: per vendor and
/// model (the dead letters' stationModel), the refusals and the repairs that would apply
/// (their wouldRepair).
class ToleranceSuggestion {
public:
    /// Counts one dead-letter record; records of no schema violation are skipped.
    void add(const nlohmann::json& dead_letter);
    /// Schema refusals counted.
    std::size_t refusals() const { return refusals_; }
    /// A `tolerance:` block to paste into the configuration: one profile per vendor and model
    /// with refusals the repairs would make valid, allowing exactly those repairs, with the
    /// counts behind it in comments. `source` names what was read.
    std::string yaml(const std::string& source) const;

private:
    struct Model {
        std::size_t refused = 0;
        std::size_t repairable = 0;
        std::map<std::string, std::size_t> rules;  ///< over the repairable refusals
        std::set<std::string> firmware;
        std::set<std::string> stations;
    };
    std::map<std::pair<std::string, std::string>, Model> models_;  ///< by vendor, model
    Model unknown_;  ///< refusals of stations whose model is not known
    std::size_t refusals_ = 0;
};

/// `ocpp-gateway tolerance suggest`: reads the dead-letter topic of the configuration (each
/// tenant's, with tenants) from its beginning to its end and prints ToleranceSuggestion::yaml.
/// Returns the exit code: 0 printed, 2 Kafka could not be read.
int run_tolerance_command(const config::Config& config, const std::string& verb, std::FILE* out,
                          std::FILE* err);

}  // namespace gateway::app
