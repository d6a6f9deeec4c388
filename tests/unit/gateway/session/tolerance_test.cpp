#include <catch2/catch.hpp>

#include "gateway/session/tolerance.hpp"

using gateway::config::ToleranceProfile;
using gateway::session::StationModel;
using nlohmann::json;

TEST_CASE("globs match with * and ?, ignoring letter case", "[tolerance]") {
    using gateway::session::glob_match;
    CHECK(glob_match("*", ""));
    CHECK(glob_match("*", "anything"));
    CHECK(glob_match("1.*", "1.4.2"));
    CHECK_FALSE(glob_match("1.*", "11.4"));
    CHECK(glob_match("growatt", "GroWatt"));
    CHECK(glob_match("CP-?""?-*", "cp-07-north"));
    CHECK_FALSE(glob_match("CP-?""?-*", "CP-7-north"));
    CHECK(glob_match("*a*b*c", "xxaxxbxxbc"));
    CHECK_FALSE(glob_match("abc", "abcd"));
    CHECK_FALSE(glob_match("", "a"));
    // A '*' in the text as well: the pattern's is still a wildcard.
    CHECK(glob_match("CP*", "CP*01"));
    CHECK(glob_match("*", "*x"));
    CHECK(glob_match("*x", "**x"));
}

TEST_CASE("the boot names the model in either version", "[tolerance]") {
    const auto m16 = gateway::session::boot_model(
        ocpp::ProtocolVersion::v16,
        json{{"chargePointVendor", "Growatt"}, {"chargePointModel", "THOR"}, {"firmwareVersion", "1.2"}});
    CHECK(m16.vendor == "Growatt");
    CHECK(m16.model == "THOR");
    CHECK(m16.firmware == "1.2");
    const auto m201 = gateway::session::boot_model(
        ocpp::ProtocolVersion::v201,
        json{{"reason", "PowerUp"}, {"chargingStation", {{"vendorName", "ABB"}, {"model", "Terra"}}}});
    CHECK(m201.vendor == "ABB");
    CHECK(m201.model == "Terra");
    CHECK(m201.firmware.empty());
    // Broken boots still name what they can; nothing is read from the wrong types.
    CHECK_FALSE(gateway::session::boot_model(ocpp::ProtocolVersion::v201, json{{"chargingStation", 5}}).known());
    CHECK_FALSE(gateway::session::boot_model(ocpp::ProtocolVersion::v16, json::array()).known());
    CHECK(gateway::session::boot_model(ocpp::ProtocolVersion::v16, json{{"chargePointVendor", 5}, {"chargePointModel", "M"}})
              .vendor.empty());
    // Far over the schema's length: cut to 200 bytes, never inside a character ("é" is two).
    const auto huge = gateway::session::boot_model(
        ocpp::ProtocolVersion::v16, json{{"chargePointVendor", std::string(200'000, 'V')},
                                         {"chargePointModel", std::string(199, 'm') + "\u00e9" + "tail"},
                                         {"firmwareVersion", std::string(50, 'f')}});
    CHECK(huge.vendor == std::string(200, 'V'));
    CHECK(huge.model == std::string(199, 'm'));
    CHECK(huge.firmware == std::string(50, 'f'));
    const auto exact = gateway::session::boot_model(
        ocpp::ProtocolVersion::v201, json{{"chargingStation", {{"vendorName", std::string(198, 'v') + "\u00e9x"}}}});
    CHECK(exact.vendor == std::string(198, 'v') + "\u00e9");
    // 50 characters of four bytes each, the most a valid boot holds: kept whole.
    std::string emoji;
    for (int i = 0; i < 50; ++i) {
        emoji += "\U0001F50C";
    }
    CHECK(gateway::session::boot_model(ocpp::ProtocolVersion::v16, json{{"chargePointVendor", emoji}}).vendor == emoji);
}

TEST_CASE("the first matching profile wins, and model patterns need a known model", "[tolerance]") {
    std::vector<ToleranceProfile> profiles(3);
    profiles[0].name = "growatt-1";
    profiles[0].vendor = "growatt";
    profiles[0].firmware = "1.*";
    profiles[1].name = "depot";
    profiles[1].id = "DEPOT-*";
    profiles[2].name = "growatt-any";
    profiles[2].vendor = "Growatt";
    const StationModel growatt1{"Growatt", "THOR", "1.4"};
    const StationModel growatt2{"Growatt", "THOR", "2.0"};
    auto name = [&](std::string_view id, const StationModel& m) {
        const auto* p = gateway::session::match_profile(profiles, id, m);
        return p == nullptr ? std::string("strict") : p->name;
    };
    CHECK(name("CP-1", growatt1) == "growatt-1");
    CHECK(name("DEPOT-3", growatt1) == "growatt-1");
    CHECK(name("DEPOT-3", growatt2) == "depot");
    CHECK(name("CP-1", growatt2) == "growatt-any");
    CHECK(name("CP-1", StationModel{"ABB", "Terra", "1.0"}) == "strict");
    CHECK(name("DEPOT-3", StationModel{}) == "depot");
    CHECK(name("CP-1", StationModel{}) == "strict");
}

TEST_CASE("a model profile with an id pattern holds for those ids before the station boots here", "[tolerance]") {
    std::vector<ToleranceProfile> profiles(1);
    profiles[0].name = "old-growatts";
    profiles[0].vendor = "Growatt";
    profiles[0].model = "*";
    profiles[0].id = "CP-OLD-*";
    auto name = [&](std::string_view id, const StationModel& m) {
        const auto* p = gateway::session::match_profile(profiles, id, m);
        return p == nullptr ? std::string("strict") : p->name;
    };
    // Reconnected from another instance, not booted here: its id is all there is to go by.
    CHECK(name("CP-OLD-1", StationModel{}) == "old-growatts");
    CHECK(name("CP-NEW-1", StationModel{}) == "strict");
    // Booted: every pattern must match.
    CHECK(name("CP-OLD-1", StationModel{"Growatt", "THOR", "1.4"}) == "old-growatts");
    CHECK(name("CP-OLD-1", StationModel{"ABB", "Terra", "1.0"}) == "strict");
}

TEST_CASE("boot models are remembered per station, whatever the spelling", "[tolerance]") {
    gateway::session::BootModels models;
    CHECK_FALSE(models.find("CP-1"));
    models.remember("CP-1", StationModel{"V", "M", "1"});
    REQUIRE(models.find("cp-1"));
    CHECK(models.find("cp-1")->model == "M");
    models.remember("cp-1", StationModel{"V", "M", "2"});
    CHECK(models.find("CP-1")->firmware == "2");
}
