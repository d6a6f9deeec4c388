#include <catch2/catch.hpp>

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
}

TEST_CASE("a tenant's transactions topic brings its prefix to the others and to the transactional id",
          "[billing]") {
    // Two tenants' instances in the same group, as lag.groups measures them: apart.
    const auto north = parse({"--transactions-topic", "north.ocpp.transactions"});
    const auto south = parse({"--transactions-topic=eu.south.ocpp.transactions"});
    CHECK(north.meter_values_topic == "north.ocpp.meter-values");
    CHECK(north.sessions_topic == "north.billing.sessions");
    CHECK(north.transactional_id == "ocpp-billing-ocpp-billing-north");
    CHECK(south.meter_values_topic == "eu.south.ocpp.meter-values");
    CHECK(south.sessions_topic == "eu.south.billing.sessions");
    CHECK(south.transactional_id == "ocpp-billing-ocpp-billing-eu.south");
    // What is given stands.
    const auto given = parse({"--transactions-topic", "north.ocpp.transactions", "--sessions-topic", "bills",
                              "--meter-values-topic", "mv", "--transactional-id", "tx-1"});
    CHECK(given.sessions_topic == "bills");
    CHECK(given.meter_values_topic == "mv");
    CHECK(given.transactional_id == "tx-1");
    // A topic named otherwise: nothing derived from it.
    const auto other = parse({"--transactions-topic", "tx-events"});
    CHECK(other.sessions_topic == "billing.sessions");
    CHECK(other.meter_values_topic == "ocpp.meter-values");
}
