#include <catch2/catch.hpp>

#include "gateway/decisions/token_table.hpp"

using gateway::decisions::TokenTable;
using nlohmann::json;

namespace {

const auto kAt = std::chrono::system_clock::time_point(std::chrono::hours(24 * 365 * 56));

}  // namespace

TEST_CASE("a token record is an entry, a tombstone removes it", "[decisions]") {
    TokenTable table;
    CHECK_FALSE(table.last_applied());
    REQUIRE_FALSE(table.apply_record(
        "04A2B9C2E35A80",
        json{{"idToken", "04A2B9C2E35A80"}, {"type", "ISO14443"}, {"status", "Accepted"},
             {"expiresAt", "2027-01-01T01:00:00+01:00"}, {"groupIdToken", {{"idToken", "FLEET-1"}, {"type", "Local"}}},
             {"personalMessage", "Welcome"}, {"language", "nl"}, {"tariff", "any field the back office adds"}}
            .dump(),
        kAt));
    CHECK(table.size() == 1);
    CHECK(table.last_applied() == kAt);
    // Case-insensitive, as OCPP compares tokens.
    const auto entry = table.find("04a2b9c2e35a80", "ISO14443");
    REQUIRE(entry);
    CHECK(entry->status == "Accepted");
    CHECK(entry->expires_at == "2027-01-01T00:00:00.000Z");
    CHECK(entry->group_id_token == "FLEET-1");
    CHECK(entry->group_type == "Local");
    CHECK(entry->personal_message == json{{"format", "UTF8"}, {"content", "Welcome"}});
    CHECK(entry->language == "nl");
    CHECK_FALSE(table.find("04A2B9C2E35A80", "eMAID"));
    CHECK(table.find("04A2B9C2E35A80", ""));  // a 1.6 idTag

    // "*" and no type both match any type; the idToken field may be left out.
    REQUIRE_FALSE(table.apply_record("ANY1", json{{"type", "*"}, {"status", "Blocked"}}.dump(), kAt));
    CHECK(table.find("any1", "eMAID")->status == "Blocked");
    CHECK(table.find("ANY1", "eMAID")->id_token == "ANY1");

    REQUIRE_FALSE(table.apply_record("04A2B9C2E35A80", std::nullopt, kAt));
    CHECK_FALSE(table.find("04A2B9C2E35A80", ""));
    CHECK(table.size() == 1);
    CHECK(table.rejected_records() == 0);
}

TEST_CASE("unusable token records are skipped and counted, the entry stays", "[decisions]") {
    TokenTable table;
    REQUIRE_FALSE(table.apply_record("CARD", json{{"status", "Accepted"}}.dump(), kAt));
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"CARD", "not json"},
        {"CARD", "[1, 2]"},
        {"CARD", R"({"status": "accepted"})"},
        {"CARD", R"({"status": "Maybe"})"},
        {"CARD", R"({"type": "ISO14443"})"},
        {"CARD", R"({"status": 1})"},
        {"CARD", R"({"status": "Blocked", "idToken": "OTHER"})"},
        {"CARD", R"({"status": "Blocked", "type": "Barcode"})"},
        {"CARD", R"({"status": "Blocked", "expiresAt": "tomorrow"})"},
        {"CARD", R"({"status": "Blocked", "groupIdToken": 7})"},
        {"CARD", R"({"status": "Blocked", "groupIdToken": {"idToken": ""}})"},
        {"CARD", R"({"status": "Blocked", "personalMessage": {"format": "PDF", "content": "x"}})"},
        {"CARD", R"({"status": "Blocked", "language": "far-too-long"})"},
        {"", R"({"status": "Blocked"})"},
        {std::string(256, 'A'), R"({"status": "Blocked"})"},
        {std::string(300, '\x80'), R"({"status": "Blocked"})"},  // no characters, and no UTF-8
        {"CARD", json{{"status", "Blocked"}, {"personalMessage", std::string(513, 'x')}}.dump()},
    };
    for (const auto& [key, value] : bad) {
        CAPTURE(key, value);
        const auto problem = table.apply_record(key, value, kAt);
        REQUIRE(problem);
        CHECK_FALSE(problem->empty());
    }
    // Nested past the bound on records (its copy would overflow the stack): named so.
    const std::string deep = std::string(200'000, '[') + std::string(200'000, ']');
    const auto too_deep = table.apply_record("CARD", R"({"status": "Blocked", "groupIdToken": )" + deep + "}", kAt);
    REQUIRE(too_deep);
    CHECK(*too_deep == "value is not a JSON object: nested deeper than 1024 levels");
    CHECK(table.rejected_records() == bad.size() + 1);
    CHECK(table.find("CARD", "")->status == "Accepted");
    CHECK(table.size() == 1);
}

TEST_CASE("statuses 1.6 lacks are refused as Invalid there", "[decisions]") {
    using gateway::decisions::status_for_v16;
    CHECK(status_for_v16("Accepted") == "Accepted");
    CHECK(status_for_v16("ConcurrentTx") == "ConcurrentTx");
    CHECK(status_for_v16("NoCredit") == "Invalid");
    CHECK(status_for_v16("NotAtThisTime") == "Invalid");
    CHECK(gateway::decisions::is_authorization_status("NotAllowedTypeEVSE"));
    CHECK_FALSE(gateway::decisions::is_authorization_status("accepted"));
}

TEST_CASE("token types: 2.0.1 knows eight, 2.1 three more", "[decisions]") {
    using gateway::decisions::is_v201_token_type;
    for (const char* type : {"Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local",
                             "MacAddress", "NoAuthorization"}) {
        CHECK(is_v201_token_type(type));
    }
    for (const char* type : {"DirectPayment", "EVCCID", "VIN", "central", ""}) {
        CHECK_FALSE(is_v201_token_type(type));
    }
}

TEST_CASE("one token under two spellings in two partitions: the later record stands on every "
          "reader, whichever partition it reads first", "[decisions]") {
    // Record times an hour before kAt: within the day deletions are remembered for.
    const std::int64_t t = std::chrono::duration_cast<std::chrono::milliseconds>(kAt.time_since_epoch()).count() - 3'600'000;
    const auto accepted = json{{"status", "Accepted"}}.dump();
    const auto blocked = json{{"status", "Blocked"}}.dump();
    struct Record {
        std::string key;
        std::optional<std::string> value;
        std::int32_t partition;
        std::int64_t at_ms;
    };
    // The card was accepted, later blocked by a tool that spells the UID in lower case; later
    // still deleted under the first spelling, and finally accepted again.
    const std::vector<Record> a = {{"04A2B9", accepted, 0, t + 1000}, {"04A2B9", std::nullopt, 0, t + 3000}};
    const std::vector<Record> b = {{"04a2b9", blocked, 1, t + 2000}};
    // Every interleaving of the two partitions (each in its own order).
    for (const std::size_t b_at : {0, 1, 2}) {
        std::vector<Record> read = a;
        read.insert(read.begin() + static_cast<std::ptrdiff_t>(b_at), b[0]);
        INFO("partition 1 read after " << b_at << " records of partition 0");
        // The latest record time wins: after all three, deleted.
        TokenTable whole;
        for (const auto& r : read) {
            whole.apply_record(r.key, r.value, kAt, r.partition, r.at_ms);
        }
        CHECK_FALSE(whole.find("04A2B9", ""));
        CHECK(whole.size() == 0);
        // The older records read after a newer one of the other spelling are skipped, counted.
        CHECK(whole.rejected_records() == (b_at == 0 ? 1U : b_at == 1 ? 0U : 1U));
        // Accepted again under the second spelling, later than the tombstone: back.
        REQUIRE_FALSE(whole.apply_record("04a2b9", accepted, kAt, 1, t + 4000));
        CHECK(whole.find("04A2B9", "")->status == "Accepted");
    }
    // Without the tombstone: blocked wins in both orders.
    for (const bool blocked_first : {false, true}) {
        TokenTable table;
        if (blocked_first) {
            REQUIRE_FALSE(table.apply_record("04a2b9", blocked, kAt, 1, t + 2000));
            CHECK(table.apply_record("04A2B9", accepted, kAt, 0, t + 1000));  // older: skipped
        } else {
            REQUIRE_FALSE(table.apply_record("04A2B9", accepted, kAt, 0, t + 1000));
            REQUIRE_FALSE(table.apply_record("04a2b9", blocked, kAt, 1, t + 2000));
        }
        CHECK(table.find("04A2B9", "")->status == "Blocked");
    }
    // One partition (the same spelling, or two spellings that hash alike): its order stands,
    // whatever the record times say.
    TokenTable table;
    REQUIRE_FALSE(table.apply_record("04A2B9", blocked, kAt, 0, t + 2000));
    REQUIRE_FALSE(table.apply_record("04a2b9", accepted, kAt, 0, t + 1000));
    CHECK(table.find("04A2B9", "")->status == "Accepted");
}

TEST_CASE("a deletion is remembered for a day after it was applied", "[decisions]") {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(kAt.time_since_epoch()).count();
    const auto accepted = json{{"status", "Accepted"}}.dump();
    constexpr std::int64_t kDay = 24LL * 3600 * 1000;
    TokenTable table;
    // A tombstone two days old, read back at start-up: remembered from now, not from its time.
    REQUIRE_FALSE(table.apply_record("04A2B9", std::nullopt, kAt, 0, now - 2 * kDay));
    CHECK(table.apply_record("04a2b9", accepted, kAt, 1, now - 3 * kDay));  // older: skipped
    CHECK(table.apply_record("04a2b9", accepted, kAt + std::chrono::milliseconds(kDay), 1,
                             now - 3 * kDay));  // still, a day after it was applied
    CHECK_FALSE(table.find("04A2B9", ""));
    // After that day, nothing is held against it any more (its tombstone may be gone from the
    // topic too, for an instance starting then).
    CHECK_FALSE(table.apply_record("04a2b9", accepted, kAt + std::chrono::milliseconds(kDay + 1), 1,
                                   now - 3 * kDay));
    CHECK(table.find("04A2B9", ""));
}

TEST_CASE("lengths are counted in characters, as the record's schema counts them", "[decisions]") {
    TokenTable table;
    // 300 Cyrillic letters: 600 bytes, within 512 characters.
    std::string message;
    for (int i = 0; i < 300; ++i) {
        message += "\xD0\x96";
    }
    // 36 characters, 72 bytes: the longest token.
    std::string token;
    for (int i = 0; i < 36; ++i) {
        token += "\xC3\x9C";
    }
    REQUIRE_FALSE(table.apply_record("CARD", json{{"status", "Blocked"}, {"personalMessage", message}}.dump(), kAt));
    CHECK(table.find("CARD", "")->status == "Blocked");
    CHECK(table.find("CARD", "")->personal_message == json{{"format", "UTF8"}, {"content", message}});
    REQUIRE_FALSE(table.apply_record(token, json{{"status", "Accepted"}, {"groupIdToken", token}}.dump(), kAt));
    CHECK(table.find(token, "")->group_id_token == token);
    CHECK(table.rejected_records() == 0);
}
