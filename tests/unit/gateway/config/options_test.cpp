#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "gateway/config/options.hpp"

using gateway::config::Option;
using gateway::config::options;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

bool yaml_has(const YAML::Node& root, const std::string& path) {
    YAML::Node node = YAML::Clone(root);
    std::size_t start = 0;
    while (true) {
        const auto dot = path.find('.', start);
        const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node.IsMap() || !node[key]) {
            return false;
        }
        node = node[key];
        if (dot == std::string::npos) {
            return true;
        }
        start = dot + 1;
    }
}

}  // namespace

TEST_CASE("every setting is spelled once: no path, variable or flag twice", "[config]") {
    std::set<std::string> paths, envs, flags;
    for (const Option& o : options()) {
        INFO(o.path << " " << o.flag);
        CHECK((!o.path.empty() || !o.flag.empty()));
        CHECK_FALSE(o.help.empty());
        CHECK((o.set != nullptr || o.shape == Option::Shape::certificates ||
               o.shape == Option::Shape::profiles));
        if (!o.path.empty()) {
            CHECK(paths.insert(o.path).second);
        }
        if (!o.env.empty()) {
            CHECK(o.env.substr(0, 13) == "OCPP_GATEWAY_");
            CHECK(envs.insert(std::string(o.env)).second);
        }
        if (!o.flag.empty()) {
            CHECK(o.flag.substr(0, 2) == "--");
            CHECK(flags.insert(std::string(o.flag)).second);
        }
    }
}

TEST_CASE("the example file and the README list every setting", "[config]") {
    const std::string example_path = std::string(OCPP_SOURCE_DIR) + "/deploy/gateway.example.yaml";
    const YAML::Node example = YAML::LoadFile(example_path);
    const std::string readme = read_text(std::string(OCPP_SOURCE_DIR) + "/README.md");
    for (const Option& o : options()) {
        if (!o.path.empty()) {
            INFO("deploy/gateway.example.yaml lacks " << o.path);
            CHECK(yaml_has(example, o.path));
        }
        if (!o.flag.empty()) {
            INFO("README lacks " << o.flag);
            CHECK(readme.find("`" + std::string(o.flag)) != std::string::npos);
        }
        if (!o.env.empty()) {
            INFO("README lacks " << o.env);
            CHECK(readme.find(std::string(o.env)) != std::string::npos);
        }
    }
}

TEST_CASE("an OCPP_GATEWAY_ variable that names no setting is reported, with the nearest", "[config]") {
    using gateway::config::apply_environment;
    gateway::config::Config c;
    const std::string before = c.kafka.brokers;
    auto unused = apply_environment(c, {{"OCPP_GATEWAY_KAFKA_BROKER", "10.0.0.1:9092"},
                                        {"OCPP_GATEWAY_ID", "gw-7"},
                                        {"OCPP_GATEWAY_CONFIG", "gateway.yaml"},
                                        {"OCPP_GATEWAY_KAFKA_PROP_CLIENT_RACK", "a"},
                                        {"OCPP_GATEWAY_BIN", "/usr/bin/ocpp-gateway"},
                                        {"PATH", "/usr/bin"}});
    CHECK(c.kafka.brokers == before);
    CHECK(c.gateway_id == "gw-7");
    CHECK(c.kafka.properties.at("client.rack") == "a");
    REQUIRE(unused.size() == 2);
    // std::map order: BIN before KAFKA_BROKER.
    CHECK(unused[0] == "environment OCPP_GATEWAY_BIN names no setting and is ignored; the variables are in --help");
    CHECK(unused[1] == "environment OCPP_GATEWAY_KAFKA_BROKER names no setting and is ignored (did you mean "
                       "OCPP_GATEWAY_KAFKA_BROKERS?); the variables are in --help");

    unused = apply_environment(c, {{"OCPP_GATEWAY_ADMIN_TOKEN", "t"}, {"OCPP_GATEWAY_LISTEN", "127.0.0.1:9000"}});
    CHECK(unused.empty());
    // What Kubernetes makes for Services named ocpp-gateway and ocpp-gateway-admin: no slips.
    unused = apply_environment(c, {{"OCPP_GATEWAY_SERVICE_HOST", "10.96.0.7"},
                                   {"OCPP_GATEWAY_SERVICE_PORT", "9000"},
                                   {"OCPP_GATEWAY_PORT", "tcp://10.96.0.7:9000"},
                                   {"OCPP_GATEWAY_PORT_9000_TCP_ADDR", "10.96.0.7"},
                                   {"OCPP_GATEWAY_ADMIN_SERVICE_PORT_ADMIN", "9100"},
                                   {"OCPP_GATEWAY_ADMIN_PORT_9100_TCP", "tcp://10.96.0.8:9100"}});
    CHECK(unused.empty());
    // A name ending in PORT with a plain number is a guess at a setting, not a link.
    unused = apply_environment(c, {{"OCPP_GATEWAY_LISTEN_PORT", "9000"}});
    REQUIRE(unused.size() == 1);
    CHECK(unused[0].rfind("environment OCPP_GATEWAY_LISTEN_PORT names no setting and is ignored", 0) == 0);
}
