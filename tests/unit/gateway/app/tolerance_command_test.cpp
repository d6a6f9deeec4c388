#include <catch2/catch.hpp>

#include "gateway/app/tolerance_command.hpp"

using gateway::app::ToleranceSuggestion;
using nlohmann::json;

namespace {

json letter(const char* station, const json& model, const json& rules, bool valid) {
    json record = {{"stationId", station}, {"errorCode", "FormationViolation"}};
    if (!model.is_null()) {
        record["stationModel"] = model;
    }
    record["wouldRepair"] = {{"rules", rules}, {"valid", valid}};
    return record;
}

}  // namespace

TEST_CASE("a suggestion allows exactly the repairs that make a model's refusals valid", "[tolerance]") {
    ToleranceSuggestion s;
    const json thor = {{"vendor", "Growatt"}, {"model", "THOR 22*"}, {"firmware", "1.2"}};
    s.add(letter("CP-1", thor, {"timestamp-without-offset"}, true));
    s.add(letter("CP-2", thor, {"enum-case", "timestamp-without-offset"}, true));
    s.add(letter("CP-2", thor, {"unknown-properties"}, false));  // not enough: not allowed for it
    s.add(letter("CP-9", {{"vendor", "ABB"}, {"model", "Terra"}, {"firmware", "3"}}, json::array(), false));
    s.add(letter("CP-7", nullptr, {"enum-case"}, true));
    s.add(json{{"stationId", "CP-3"}, {"reason", "invalid JSON"}});  // not a schema refusal
    s.add(json::array());
    CHECK(s.refusals() == 5);
    const std::string yaml = s.yaml("ocpp.dead-letter");
    INFO(yaml);
    CHECK_THAT(yaml, Catch::Contains("# 5 schema refusals read from ocpp.dead-letter."));
    CHECK_THAT(yaml, Catch::Contains("# \"Growatt\" \"THOR 22*\" (firmware \"1.2\"; 2 station(s)): 3 refused, 2 repairable by "
                                     "enum-case 1, timestamp-without-offset 2; 1 no profile can repair"));
    CHECK_THAT(yaml, Catch::Contains("    - name: growatt-thor-22\n"
                                     "      match: {vendor: \"Growatt\", model: \"THOR 22?\"}\n"
                                     "      allow: [enum-case, timestamp-without-offset]\n"
                                     "      assume_offset: \"+00:00\""));
    CHECK_THAT(yaml, Catch::Contains("# \"ABB\" \"Terra\" (firmware \"3\"; 1 station(s)): 1 refused, 0 repairable; 1 no profile can repair"));
    CHECK_THAT(yaml, !Catch::Contains("name: abb-terra"));
    CHECK_THAT(yaml, Catch::Contains("# 1 refused from stations whose model is not known (no BootNotification seen): \"CP-7\""));
}

TEST_CASE("a suggestion is a configuration the gateway takes, whatever the stations' boots said", "[tolerance]") {
    ToleranceSuggestion s;
    // A model the boot left empty (the 1.6 schema allows it) and firmware text with a line break.
    s.add(letter("CP-1", {{"vendor", "Acme"}, {"model", ""}, {"firmware", "1.0\nallow: [everything]"}},
                 {"enum-case"}, true));
    const std::string yaml = s.yaml("ocpp.dead-letter");
    INFO(yaml);
    CHECK_THAT(yaml, Catch::Contains("      match: {vendor: \"Acme\"}\n"));
    CHECK_THAT(yaml, Catch::Contains("(firmware \"1.0\\nallow: [everything]\";"));
    CHECK_THAT(yaml, !Catch::Contains("\nallow: [everything]"));
    // A model of that vendor named in full: its profile comes first, or the vendor's alone
    // would take its stations (the first matching profile wins).
    s.add(letter("CP-2", {{"vendor", "Acme"}, {"model", "X"}, {"firmware", "2"}}, {"timestamp-without-offset"}, true));
    const std::string both = s.yaml("ocpp.dead-letter");
    INFO(both);
    const auto full = both.find("match: {vendor: \"Acme\", model: \"X\"}");
    const auto vendor_only = both.find("match: {vendor: \"Acme\"}");
    REQUIRE(full != std::string::npos);
    REQUIRE(vendor_only != std::string::npos);
    CHECK(full < vendor_only);
}

TEST_CASE("a fleet with nothing to repair gets no profile", "[tolerance]") {
    ToleranceSuggestion s;
    CHECK(s.yaml("t") == "# 0 schema refusals read from t.\n# No refusals that a tolerance profile could repair.\n");
}
