// What the presence table costs an instance per station of the whole fleet: heap bytes held
// per entry (malloc's own count, before and after the table is filled) and the time to apply
// one record (the start-up read of ocpp.presence). Every instance holds every station.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gateway/commands/presence_table.hpp"
#include "kafka_bridge/envelope.hpp"

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
    state.counters["records_per_s"] = benchmark::Counter(
        static_cast<double>(stations) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_PresenceTable)->Arg(100000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
