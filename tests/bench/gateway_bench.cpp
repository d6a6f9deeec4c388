// Pieces of the gateway measured alone.
//  - The presence table: heap bytes held per station of the whole fleet (malloc's own count,
//    before and after the table is filled; every instance holds every station) and records
//    applied per second (the start-up read of ocpp.presence).
//  - The RFC 3339 times every station message formats and parses, against the C library's
//    gmtime_r/timegm (one thread and two).
//  - What every station message's record costs: the record whole (a Heartbeat, a MeterValues
//    with five samples), and its pieces against what they were — the payload's text against
//    nlohmann's dump(), the dedup key's SHA-256 against EVP_Digest(EVP_sha256()), the event
//    id against snprintf.
//  - The UTF-8 check of every text frame: websocketpp's automaton against the gateway's ASCII
//    fast path in front of it (gateway/http/websocket_utf8.hpp), on a MeterValues frame.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <openssl/evp.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gateway/commands/presence_table.hpp"
#include "gateway/http/websocket_utf8.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/json_writer.hpp"
#include "ocpp/rfc3339.hpp"

namespace {

struct Fleet {
    std::vector<std::string> keys;
    std::vector<std::string> values;
};

// Records as instances write them: station ids of a real network's length, pod-style instance
// names, v4 session ids, canonical times.
const Fleet& fleet(std::size_t stations) {
    static Fleet f = [stations] {
        Fleet out;
        const std::int64_t t0 = 1'780'000'000'000;
        for (std::size_t i = 0; i < stations; ++i) {
            char id[32];
            std::snprintf(id, sizeof(id), "DE*OPR*E%07zu", i);
            kafka_bridge::Presence p;
            p.station_id = id;
            p.gateway_id = "ocpp-gateway-7f9c4d-" + std::to_string(i % 6);
            p.connected = true;
            p.session_id = kafka_bridge::new_uuid();
            p.version = ocpp::ProtocolVersion::v201;
            p.since = kafka_bridge::format_time_ms(t0 + static_cast<std::int64_t>(i));
            p.at = p.since;
            out.keys.push_back(kafka_bridge::presence_key(p.station_id));
            out.values.push_back(kafka_bridge::presence_record(p));
        }
        return out;
    }();
    return f;
}

void fill(gateway::commands::PresenceTable& table, const Fleet& f) {
    for (std::size_t i = 0; i < f.keys.size(); ++i) {
        table.apply(f.keys[i], f.values[i], static_cast<std::int64_t>(i), 1'780'000'000'000);
    }
}

void BM_PresenceTable(benchmark::State& state) {
    const auto stations = static_cast<std::size_t>(state.range(0));
    const Fleet& f = fleet(stations);
    double bytes = 0;
    for (auto _ : state) {
        const std::size_t before = mallinfo2().uordblks;
        gateway::commands::PresenceTable table(std::chrono::milliseconds(10000));
        fill(table, f);
        bytes = static_cast<double>(mallinfo2().uordblks - before);
        benchmark::DoNotOptimize(table.last("de*opr*e0000001"));
        state.PauseTiming();  // the table's destruction is not the start-up read
        {
            gateway::commands::PresenceTable gone = std::move(table);
        }
        state.ResumeTiming();
    }
    state.counters["bytes_per_station"] = bytes / static_cast<double>(stations);
    state.counters["records_per_s"] =
        benchmark::Counter(static_cast<double>(stations) * static_cast<double>(state.iterations()),
                           benchmark::Counter::kIsRate);
}

// What format_time_ms and parse_time_ms were: the C library's calendar functions.
std::string libc_format_time_ms(std::int64_t unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[96];
    std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return buffer;
}

int digits(const std::string& s, std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v = v * 10 + (s[pos + i] - '0');
    }
    return v;
}

std::optional<std::int64_t> libc_parse_time_ms(const std::string& s) {
    if (!ocpp::is_rfc3339_date_time(s)) {
        return std::nullopt;
    }
    std::tm tm{};
    tm.tm_year = digits(s, 0, 4) - 1900;
    tm.tm_mon = digits(s, 5, 2) - 1;
    tm.tm_mday = digits(s, 8, 2);
    tm.tm_hour = digits(s, 11, 2);
    tm.tm_min = digits(s, 14, 2);
    tm.tm_sec = digits(s, 17, 2);
    return static_cast<std::int64_t>(timegm(&tm)) * 1000 + digits(s, 20, 3);
}

constexpr std::int64_t kSomeTime = 1'780'000'000'000;

void BM_FormatTime_libc(benchmark::State& state) {
    std::int64_t t = kSomeTime;
    for (auto _ : state) {
        benchmark::DoNotOptimize(libc_format_time_ms(t += 7919));
    }
}

void BM_FormatTime(benchmark::State& state) {
    std::int64_t t = kSomeTime;
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::format_time_ms(t += 7919));
    }
}

void BM_ParseTime_libc(benchmark::State& state) {
    const std::string text = kafka_bridge::format_time_ms(kSomeTime);
    for (auto _ : state) {
        benchmark::DoNotOptimize(libc_parse_time_ms(text));
    }
}

void BM_ParseTime(benchmark::State& state) {
    const std::string text = kafka_bridge::format_time_ms(kSomeTime);
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::parse_time_ms(text));
    }
}

// A MeterValues of 2.0.1 as a station sends it every minute: five measurands of one reading.
nlohmann::json meter_values() {
    nlohmann::json samples = nlohmann::json::array();
    for (const char* measurand : {"Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
                                  "Voltage", "SoC"}) {
        samples.push_back({{"value", 23145.75}, {"measurand", measurand}, {"unitOfMeasure", {{"unit", "Wh"}}},
                           {"context", "Sample.Periodic"}});
    }
    return {{"evseId", 1},
            {"meterValue", nlohmann::json::array({{{"timestamp", "2026-03-01T10:15:30.123Z"},
                                                   {"sampledValue", samples}}})}};
}

const kafka_bridge::SessionInfo& bench_session() {
    static const kafka_bridge::SessionInfo session{"DE*OPR*E0000042", ocpp::ProtocolVersion::v201,
                                                   "ocpp-gateway-7f9c4d-1", "0b7e4bb5-6a55-4d4c-9d0e-3f1f0c8a2b11"};
    return session;
}

void BM_StationEvent_Heartbeat(benchmark::State& state) {
    const nlohmann::json payload = nlohmann::json::object();
    const std::string reply = R"({"currentTime":"2026-03-01T10:15:30.123Z"})";
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::station_event(
            bench_session(), "Heartbeat", ocpp::EventClass::heartbeat, "m-000123", "2026-03-01T10:15:30.123Z",
            ++sequence, payload, reply, nlohmann::json()));
    }
}

void BM_StationEvent_MeterValues(benchmark::State& state) {
    const nlohmann::json payload = meter_values();
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::station_event(
            bench_session(), "MeterValues", ocpp::EventClass::metering, "m-000123", "2026-03-01T10:15:30.123Z",
            ++sequence, payload, "{}", nlohmann::json()));
    }
}

void BM_PayloadText_nlohmann(benchmark::State& state) {
    const nlohmann::json payload = meter_values();
    for (auto _ : state) {
        benchmark::DoNotOptimize(payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
}

void BM_PayloadText(benchmark::State& state) {
    const nlohmann::json payload = meter_values();
    for (auto _ : state) {
        benchmark::DoNotOptimize(ocpp::write_json(payload));
    }
}

// The dedup key's material for a MeterValues: station, action, the payload's text.
std::string key_material() {
    return std::string(bench_session().station_id) + "\nMeterValues\n" + ocpp::write_json(meter_values());
}

// What sha256_hex was: OpenSSL 3 looks SHA-256 up by name on every call.
void BM_Sha256_EVP_Digest(benchmark::State& state) {
    const std::string material = key_material();
    for (auto _ : state) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_Digest(material.data(), material.size(), digest, &length, EVP_sha256(), nullptr);
        benchmark::DoNotOptimize(digest);
    }
}

void BM_Sha256(benchmark::State& state) {
    const std::string material = key_material();
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::sha256_hex(material));
    }
}

// What new_uuid was: the same random bits, formatted by snprintf.
void BM_Uuid_snprintf(benchmark::State& state) {
    std::mt19937_64 rng(7);
    for (auto _ : state) {
        const std::uint64_t hi = rng();
        const std::uint64_t lo = rng();
        char buffer[37];
        std::snprintf(buffer, sizeof(buffer), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32U),
                      static_cast<unsigned>((hi >> 16U) & 0xFFFFU), static_cast<unsigned>(hi & 0xFFFFU),
                      static_cast<unsigned>(lo >> 48U), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
        benchmark::DoNotOptimize(std::string(buffer));
    }
}

void BM_Uuid(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(kafka_bridge::new_uuid());
    }
}

// The text of a MeterValues CALL frame as a station sends it, with or without one non-ASCII
// character at its end (a vendor's unit of measure, say).
std::string meter_values_frame(bool non_ascii) {
    std::string text = R"([2,"m-000123","MeterValues",)" + ocpp::write_json(meter_values()) + "]";
    if (non_ascii) {
        text.insert(text.rfind('"'), "\xC2\xB0");  // U+00B0, at the end of the last string
    }
    return text;
}

// websocketpp's processor passes std::string's iterator (the gateway's specialization); the
// const iterator reaches websocketpp's own template, the automaton byte by byte.
void BM_TextFrameUtf8_websocketpp(benchmark::State& state) {
    const std::string text = meter_values_frame(state.range(0) != 0);
    for (auto _ : state) {
        websocketpp::utf8_validator::validator v;
        benchmark::DoNotOptimize(v.decode(text.cbegin(), text.cend()) && v.complete());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void BM_TextFrameUtf8(benchmark::State& state) {
    std::string text = meter_values_frame(state.range(0) != 0);
    for (auto _ : state) {
        websocketpp::utf8_validator::validator v;
        benchmark::DoNotOptimize(v.decode(text.begin(), text.end()) && v.complete());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

}  // namespace

BENCHMARK(BM_PresenceTable)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FormatTime_libc)->Threads(1)->Threads(2);
BENCHMARK(BM_FormatTime)->Threads(1)->Threads(2);
BENCHMARK(BM_ParseTime_libc)->Threads(1)->Threads(2);
BENCHMARK(BM_ParseTime)->Threads(1)->Threads(2);
BENCHMARK(BM_StationEvent_Heartbeat);
BENCHMARK(BM_StationEvent_MeterValues);
BENCHMARK(BM_PayloadText_nlohmann);
BENCHMARK(BM_PayloadText);
BENCHMARK(BM_Sha256_EVP_Digest)->Threads(1)->Threads(2);
BENCHMARK(BM_Sha256)->Threads(1)->Threads(2);
BENCHMARK(BM_Uuid_snprintf);
BENCHMARK(BM_Uuid);

BENCHMARK(BM_TextFrameUtf8_websocketpp)->Arg(0)->Arg(1);
BENCHMARK(BM_TextFrameUtf8)->Arg(0)->Arg(1);

BENCHMARK_MAIN();
