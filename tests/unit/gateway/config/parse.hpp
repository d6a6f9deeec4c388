#pragma once

#include <map>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "support.hpp"

// The configuration test files' ways in: a command line as main() gets it, and a YAML file.
namespace config_test {

inline gateway::config::CommandLine parse(std::vector<std::string> args,
                                          std::map<std::string, std::string> env = {}) {
    std::vector<const char*> argv = {"ocpp-gateway"};
    for (const auto& a : args) {
        argv.push_back(a.c_str());
    }
    return gateway::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), env);
}

inline std::string write_yaml(const std::string& name, const std::string& text) {
    return test_support::write_scratch_file(name + ".yaml", text);
}

}  // namespace config_test
