// Pieces of the gateway measured alone.
//  - The presence table: heap bytes held per station of the whole fleet (malloc's own count,
//    before and after the table is filled; every instance holds every station) and records
//    applied per second (the start-up read of ocpp.presence).
//  - The RFC 3339 times every station message formats and parses, against the C library's
//    gmtime_r/timegm (one thread and two).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "gateway/commands/presence_table.hpp"
#include "kafka_bridge/envelope.hpp"
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

}  // namespace

BENCHMARK(BM_PresenceTable)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FormatTime_libc)->Threads(1)->Threads(2);
BENCHMARK(BM_FormatTime)->Threads(1)->Threads(2);
BENCHMARK(BM_ParseTime_libc)->Threads(1)->Threads(2);
BENCHMARK(BM_ParseTime)->Threads(1)->Threads(2);

BENCHMARK_MAIN();
