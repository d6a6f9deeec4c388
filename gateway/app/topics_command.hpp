#pragma once

#include <cstdio>
#include <string>

#include "gateway/config/config.hpp"

namespace gateway::app {

/// `ocpp-gateway topics plan | apply | check` against the cluster `config.kafka` names,
/// with the topics and contract `config` gives (docs/contract.md):
///
/// - plan: prints what differs from the contract and what apply would do; changes nothing.
/// - apply: creates missing topics, raises partition counts, sets configs (never deletes a
///   topic, lowers a partition count, or touches a single-partition topic's count), then
///   plans again.
/// - check: prints the differences, like plan.
///
/// Returns the exit code: 0 the cluster meets the contract (plan: the plan was printed),
/// 1 it does not (check; apply: differences remain that apply cannot fix), 2 Kafka could not
/// be asked or refused a change.
int run_topics_command(const config::Config& config, const std::string& verb, std::FILE* out,
                       std::FILE* err);

}  // namespace gateway::app
