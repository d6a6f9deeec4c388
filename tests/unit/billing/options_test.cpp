#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "tools/billing/options.hpp"

namespace {

billing::Options parse(std::vector<std::string> args) {
    args.insert(args.begin(), "ocpp-billing");
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    billing::Options o;
    REQUIRE(billing::parse_options(static_cast<int>(argv.size()), argv.data(), o));
    return o;
}

}  // namespace

TEST_CASE("the gateway's topics by default, one sessions topic and transactional id per group", "[billing]") {
    const auto o = parse({});
    CHECK(o.transactions_topic == "ocpp.transactions");
    CHECK(o.meter_values_topic == "ocpp.meter-values");
    CHECK(o.sessions_topic == "billing.sessions");
    CHECK(o.transactional_id == "ocpp-billing-ocpp-billing");
    // A topic named alone changes nothing else (as before --topic-prefix).
    const auto named = parse({"--transactions-topic", "north.ocpp.transactions"});
    CHECK(named.meter_values_topic == "ocpp.meter-values");
    CHECK(named.sessions_topic == "billing.sessions");
    CHECK(named.transactional_id == "ocpp-billing-ocpp-billing");
}

TEST_CASE("a tenant's topic prefix goes before every topic and after the transactional id", "[billing]") {
    // Two tenants' instances: apart in topics and in transactional ids.
    const auto north = parse({"--topic-prefix", "north."});
    const auto south = parse({"--topic-prefix=eu.south."});
    CHECK(north.transactions_topic == "north.ocpp.transactions");
    CHECK(north.meter_values_topic == "north.ocpp.meter-values");
    CHECK(north.sessions_topic == "north.billing.sessions");
    CHECK(north.transactional_id == "ocpp-billing-ocpp-billing-north");
    CHECK(south.transactions_topic == "eu.south.ocpp.transactions");
    CHECK(south.sessions_topic == "eu.south.billing.sessions");
    CHECK(south.transactional_id == "ocpp-billing-ocpp-billing-eu.south");
    // What is named stands.
    const auto given = parse({"--topic-prefix", "north.", "--sessions-topic", "bills", "--transactional-id", "tx-1"});
    CHECK(given.sessions_topic == "bills");
    CHECK(given.transactional_id == "tx-1");
    CHECK(given.meter_values_topic == "north.ocpp.meter-values");
    // Not a topic name's characters: refused, naming the option.
    billing::Options ignored;
    std::string bad[] = {"ocpp-billing", "--topic-prefix", "no/slash."};
    char* argv[] = {bad[0].data(), bad[1].data(), bad[2].data()};
    CHECK_THROWS_WITH(billing::parse_options(3, argv, ignored), Catch::Contains("--topic-prefix"));
}
