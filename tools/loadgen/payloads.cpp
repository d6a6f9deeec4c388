#include "tools/loadgen/payloads.hpp"

#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "ocpp/json_writer.hpp"

namespace loadgen {

using ocpp::ProtocolVersion;
using nlohmann::json;

namespace {

constexpr std::array<std::string_view, kActionCount> kActionNames = {
    "Heartbeat", "MeterValues", "StatusNotification", "Authorize", "BootNotification"};

// A 1.6 connector going through a charging cycle, and the 2.0.1 connector states.
constexpr std::array<const char*, 6> kStatus16 = {"Available",   "Preparing", "Charging",
                                                  "SuspendedEV", "Charging",  "Finishing"};
constexpr std::array<const char*, 2> kStatus201 = {"Available", "Occupied"};

std::string one_decimal(double v) { return fmt::format("{:.1f}", v); }
std::string two_decimals(double v) { return fmt::format("{:.2f}", v); }

// Dividing by a power of ten gives the nearest double to the decimal (15042.4, not
// 15042.400000000001 as multiplying by 0.1 would).
double round_to(double v, double scale) { return std::round(v * scale) / scale; }

json sample16(std::string value, const char* measurand, const char* unit, const char* phase) {
    json s = {{"value", std::move(value)},
              {"context", "Sample.Periodic"},
              {"measurand", measurand},
              {"location", "Outlet"},
              {"unit", unit}};
    if (phase != nullptr) {
        s["phase"] = phase;
    }
    return s;
}

json sample201(double value, const char* measurand, const char* unit, const char* phase) {
    json s = {{"value", value},
              {"context", "Sample.Periodic"},
              {"measurand", measurand},
              {"location", "Outlet"},
              {"unitOfMeasure", {{"unit", unit}}}};
    if (phase != nullptr) {
        s["phase"] = phase;
    }
    return s;
}

}  // namespace

std::string_view action_name(Action a) { return kActionNames[static_cast<std::size_t>(a)]; }

std::uint64_t Xorshift::next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
}

Action pick_realistic(Xorshift& rng) {
    unsigned roll = rng.below(100);
    for (const auto& share : kRealisticMix) {
        if (roll < share.percent) {
            return share.action;
        }
        roll -= share.percent;
    }
    return kRealisticMix.back().action;
}

void Meter::advance(Xorshift& rng) {
    // Around 7.4 kW on three phases; a reading every few seconds adds some Wh.
    power_w = 7000.0 + static_cast<double>(rng.below(800));
    energy_wh += power_w / 3600.0 * 5.0;
    for (auto& c : current_a) {
        c = power_w / (3.0 * 230.0) + static_cast<double>(rng.below(20)) / 100.0 - 0.1;
    }
}

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string utc_now() { return utc_timestamp(std::chrono::system_clock::now()); }

json boot_notification(ProtocolVersion v, std::string_view station_id) {
    // Serial numbers are at most 25 characters in both versions.
    const std::string serial(station_id.substr(0, 25));
    if (v == ProtocolVersion::v16) {
        return {{"chargePointVendor", "Alfen BV"},
                {"chargePointModel", "NG920-61013"},
                {"chargePointSerialNumber", serial},
                {"chargeBoxSerialNumber", serial},
                {"firmwareVersion", "4.14.2-3917"},
                {"meterType", "Eastron SDM630"}};
    }
    return {{"reason", "PowerUp"},
            {"chargingStation",
             {{"serialNumber", serial},
              {"model", "Pulsar Max"},
              {"vendorName", "Wallbox Chargers S.L."},
              {"firmwareVersion", "6.6.14"}}}};
}

json heartbeat() { return json::object(); }

json authorize(ProtocolVersion v, std::string_view token) {
    if (v == ProtocolVersion::v16) {
        return {{"idTag", token}};
    }
    return {{"idToken", {{"idToken", token}, {"type", "ISO14443"}}}};
}

json meter_values(ProtocolVersion v, const Meter& m, const std::string& timestamp,
                  std::optional<std::int64_t> transaction_id, int evse_or_connector) {
    json samples = json::array();
    if (v == ProtocolVersion::v16) {
        samples.push_back(
            sample16(one_decimal(m.energy_wh), "Energy.Active.Import.Register", "Wh", nullptr));
        samples.back()["format"] = "Raw";
        samples.push_back(sample16(one_decimal(m.power_w), "Power.Active.Import", "W", nullptr));
        samples.push_back(sample16(two_decimals(m.current_a[0]), "Current.Import", "A", "L1"));
        samples.push_back(sample16(two_decimals(m.current_a[1]), "Current.Import", "A", "L2"));
        samples.push_back(sample16(two_decimals(m.current_a[2]), "Current.Import", "A", "L3"));
        json p = {{"connectorId", evse_or_connector},
                  {"meterValue", json::array({{{"timestamp", timestamp}, {"sampledValue", std::move(samples)}}})}};
        if (transaction_id) {
            p["transactionId"] = *transaction_id;
        }
        return p;
    }
    samples.push_back(sample201(round_to(m.energy_wh, 10), "Energy.Active.Import.Register", "Wh", nullptr));
    samples.push_back(sample201(round_to(m.power_w, 10), "Power.Active.Import", "W", nullptr));
    samples.push_back(sample201(round_to(m.current_a[0], 100), "Current.Import", "A", "L1"));
    samples.push_back(sample201(round_to(m.current_a[1], 100), "Current.Import", "A", "L2"));
    samples.push_back(sample201(round_to(m.current_a[2], 100), "Current.Import", "A", "L3"));
    return {{"evseId", evse_or_connector},
            {"meterValue", json::array({{{"timestamp", timestamp}, {"sampledValue", std::move(samples)}}})}};
}

json status_notification(ProtocolVersion v, std::uint32_t step, const std::string& timestamp) {
    if (v == ProtocolVersion::v16) {
        return {{"connectorId", 1},
                {"errorCode", "NoError"},
                {"status", kStatus16[step % kStatus16.size()]},
                {"timestamp", timestamp}};
    }
    return {{"timestamp", timestamp},
            {"connectorStatus", kStatus201[step % kStatus201.size()]},
            {"evseId", 1},
            {"connectorId", 1}};
}

namespace {

// A number as write_json writes it (nlohmann's shortest round-trip form, "7000.0" for 7000).
void append_number(std::string& out, double v) { ocpp::append_json(out, json(v)); }

// `"measurand":"…",` and, for one phase, `"phase":"…",` (adjacent in the keys' order).
void append_measurand(std::string& out, const char* measurand, const char* phase) {
    out += R"("measurand":")";
    out += measurand;
    out += "\",";
    if (phase != nullptr) {
        out += R"("phase":")";
        out += phase;
        out += "\",";
    }
}

void append_sample16(std::string& out, const std::string& value, const char* measurand,
                     const char* unit, const char* phase, bool raw_format) {
    out += R"({"context":"Sample.Periodic",)";
    if (raw_format) {
        out += R"("format":"Raw",)";
    }
    out += R"("location":"Outlet",)";
    append_measurand(out, measurand, phase);
    out += R"("unit":")";
    out += unit;
    out += R"(","value":)";
    ocpp::append_json_string(out, value);
    out += '}';
}

void append_sample201(std::string& out, double value, const char* measurand, const char* unit,
                      const char* phase) {
    out += R"({"context":"Sample.Periodic","location":"Outlet",)";
    append_measurand(out, measurand, phase);
    out += R"("unitOfMeasure":{"unit":")";
    out += unit;
    out += R"("},"value":)";
    append_number(out, value);
    out += '}';
}

}  // namespace

void append_meter_values(std::string& out, ProtocolVersion v, const Meter& m,
                         const std::string& timestamp) {
    if (v == ProtocolVersion::v16) {
        out += R"({"connectorId":1,"meterValue":[{"sampledValue":[)";
        append_sample16(out, one_decimal(m.energy_wh), "Energy.Active.Import.Register", "Wh", nullptr, true);
        out += ',';
        append_sample16(out, one_decimal(m.power_w), "Power.Active.Import", "W", nullptr, false);
        out += ',';
        append_sample16(out, two_decimals(m.current_a[0]), "Current.Import", "A", "L1", false);
        out += ',';
        append_sample16(out, two_decimals(m.current_a[1]), "Current.Import", "A", "L2", false);
        out += ',';
        append_sample16(out, two_decimals(m.current_a[2]), "Current.Import", "A", "L3", false);
    } else {
        out += R"({"evseId":1,"meterValue":[{"sampledValue":[)";
        append_sample201(out, round_to(m.energy_wh, 10), "Energy.Active.Import.Register", "Wh", nullptr);
        out += ',';
        append_sample201(out, round_to(m.power_w, 10), "Power.Active.Import", "W", nullptr);
        out += ',';
        append_sample201(out, round_to(m.current_a[0], 100), "Current.Import", "A", "L1");
        out += ',';
        append_sample201(out, round_to(m.current_a[1], 100), "Current.Import", "A", "L2");
        out += ',';
        append_sample201(out, round_to(m.current_a[2], 100), "Current.Import", "A", "L3");
    }
    out += R"(],"timestamp":)";
    ocpp::append_json_string(out, timestamp);
    out += "}]}";
}

void append_status_notification(std::string& out, ProtocolVersion v, std::uint32_t step,
                                const std::string& timestamp) {
    if (v == ProtocolVersion::v16) {
        out += R"({"connectorId":1,"errorCode":"NoError","status":")";
        out += kStatus16[step % kStatus16.size()];
        out += '"';
    } else {
        out += R"({"connectorId":1,"connectorStatus":")";
        out += kStatus201[step % kStatus201.size()];
        out += R"(","evseId":1)";
    }
    out += R"(,"timestamp":)";
    ocpp::append_json_string(out, timestamp);
    out += '}';
}

void append_authorize(std::string& out, ProtocolVersion v, std::string_view token) {
    if (v == ProtocolVersion::v16) {
        out += R"({"idTag":)";
        ocpp::append_json_string(out, token);
        out += '}';
        return;
    }
    out += R"({"idToken":{"idToken":)";
    ocpp::append_json_string(out, token);
    out += R"(,"type":"ISO14443"}})";
}

std::string token_for(std::size_t station_number) {
    return fmt::format("04A2{:010X}", station_number);
}

json start_transaction(std::string_view token, std::int64_t meter_start_wh,
                       const std::string& timestamp) {
    return {{"connectorId", 1},
            {"idTag", token},
            {"meterStart", meter_start_wh},
            {"timestamp", timestamp}};
}

json stop_transaction(std::int64_t transaction_id, std::string_view token,
                      std::int64_t meter_stop_wh, const std::string& timestamp) {
    return {{"transactionId", transaction_id},
            {"idTag", token},
            {"meterStop", meter_stop_wh},
            {"timestamp", timestamp},
            {"reason", "Local"}};
}

json transaction_event(const TransactionEventArgs& a, const std::string& timestamp) {
    json info = {{"transactionId", a.transaction_id}, {"chargingState", a.charging_state}};
    if (a.stopped_reason) {
        info["stoppedReason"] = *a.stopped_reason;
    }
    json p = {{"eventType", a.event_type},
              {"timestamp", timestamp},
              {"triggerReason", a.trigger_reason},
              {"seqNo", a.seq_no},
              {"transactionInfo", std::move(info)},
              {"evse", {{"id", 1}, {"connectorId", 1}}}};
    if (a.token) {
        p["idToken"] = {{"idToken", *a.token}, {"type", "ISO14443"}};
    }
    if (a.energy_wh) {
        p["meterValue"] = json::array(
            {{{"timestamp", timestamp},
              {"sampledValue",
               json::array({{{"value", *a.energy_wh},
                             {"context", a.reading_context},
                             {"measurand", "Energy.Active.Import.Register"},
                             {"unitOfMeasure", {{"unit", "Wh"}}}}})}}});
    }
    return p;
}

}  // namespace loadgen
