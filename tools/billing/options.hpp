#pragma once

#include <map>
#include <string>

namespace billing {

/// ocpp-billing's command line (options.cpp has the usage text).
struct Options {
    std::string brokers = "127.0.0.1:9092";
    std::string group = "ocpp-billing";
    std::string transactions_topic = "ocpp.transactions";
    std::string meter_values_topic = "ocpp.meter-values";
    std::string sessions_topic = "billing.sessions";
    std::string transactional_id;  // default: ocpp-billing-<group>
    std::map<std::string, std::string> properties;
    bool print_closed = false;
    int batch = 500;
    double retire_after_hours = 72;  // 0: never
    int clock_slack_s = 600;
};

/// Reads the command line into `o`. False: --help was given and the usage printed. Throws
/// std::runtime_error, naming the option, for anything it cannot take.
bool parse_options(int argc, char** argv, Options& o);

}  // namespace billing
