// Parse + validate throughput of typical station messages, and the RPC bookkeeping around
// them, one core.
#include <cstdio>
#include <vector>

#include <benchmark/benchmark.h>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "ocpp/embedded_schemas.hpp"
#include "ocpp/rfc3339.hpp"
#include "ocpp/inbound.hpp"
#include "ocpp/repair.hpp"
#include "ocpp/rpc_state.hpp"
#include "support.hpp"

namespace {

using ocpp::ProtocolVersion;

const ocpp::SchemaRegistry& registry() {
    static const ocpp::SchemaRegistry instance;
    return instance;
}

const ocpp::SchemaRegistry& general_registry() {
    static const ocpp::SchemaRegistry instance({}, ocpp::SchemaRegistry::Engine::general);
    return instance;
}

std::string frame_from_fixture(ProtocolVersion v, const std::string& action) {
    const auto path = test_support::fixtures_dir() / std::string(ocpp::subprotocol(v)) /
                      "requests" / (action + ".json");
    return ocpp::serialize(ocpp::Call{ocpp::MessageId("bench-0001"), action,
                                      nlohmann::json::parse(test_support::read_file(path))});
}

// What the gateway does for each station CALL before publishing it.
void run_parse_and_validate(benchmark::State& state, ProtocolVersion v, const std::string& action,
                            const ocpp::SchemaRegistry& schemas) {
    const std::string text = frame_from_fixture(v, action);
    for (auto _ : state) {
        auto frame = ocpp::parse_frame(text);
        auto accepted = ocpp::accept_station_call(
            v, std::move(std::get<ocpp::Call>(frame.value())), schemas);
        if (!accepted.ok()) {
            state.SkipWithError("fixture rejected");
            break;
        }
        benchmark::DoNotOptimize(accepted);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
}

void parse_and_validate(benchmark::State& state, ProtocolVersion v, const std::string& action) {
    run_parse_and_validate(state, v, action, registry());
}

// The same with valijson (and the project's date-time and multipleOf checks) instead of the
// compiled validator, for comparison in the same run.
void parse_and_validate_valijson(benchmark::State& state, ProtocolVersion v,
                                 const std::string& action) {
    run_parse_and_validate(state, v, action, general_registry());
}

// The same validation with valijson's own `format: date-time` check (a std::regex per call),
// for comparison in the same run.
void stock_valijson(benchmark::State& state, ProtocolVersion v, const std::string& action) {
    const auto all = nlohmann::json::parse(v == ProtocolVersion::v16 ? ocpp::embedded::ocpp16
                                                                     : ocpp::embedded::ocpp201);
    nlohmann::json schema_doc;
    for (const auto& s : all) {
        if (s["$id"] == "urn:" + action + ".req") {
            schema_doc = s;
        }
    }
    valijson::Schema schema;
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
    parser.populateSchema(schema_adapter, schema);
    const std::string text = frame_from_fixture(v, action);
    for (auto _ : state) {
        auto frame = ocpp::parse_frame(text);
        const auto& payload = std::get<ocpp::Call>(frame.value()).payload;
        valijson::Validator validator(valijson::Validator::kStrongTypes);
        valijson::adapters::NlohmannJsonAdapter target(payload);
        if (!validator.validate(schema, target, nullptr)) {
            state.SkipWithError("fixture rejected");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void parse_only(benchmark::State& state, ProtocolVersion v, const std::string& action) {
    const std::string text = frame_from_fixture(v, action);
    for (auto _ : state) {
        auto frame = ocpp::parse_frame(text);
        benchmark::DoNotOptimize(frame);
    }
    state.SetItemsProcessed(state.iterations());
}

void rfc3339(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(ocpp::is_rfc3339_date_time("2026-03-01T10:15:30.123+02:00"));
    }
    state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(parse_and_validate, v16_Heartbeat, ProtocolVersion::v16, "Heartbeat");
BENCHMARK_CAPTURE(parse_and_validate, v16_StatusNotification, ProtocolVersion::v16,
                  "StatusNotification");
BENCHMARK_CAPTURE(parse_and_validate, v16_MeterValues_5_samples, ProtocolVersion::v16,
                  "MeterValues");
BENCHMARK_CAPTURE(parse_and_validate, v201_Heartbeat, ProtocolVersion::v201, "Heartbeat");
BENCHMARK_CAPTURE(parse_and_validate, v201_StatusNotification, ProtocolVersion::v201,
                  "StatusNotification");
BENCHMARK_CAPTURE(parse_and_validate, v201_MeterValues_5_samples, ProtocolVersion::v201,
                  "MeterValues");
BENCHMARK_CAPTURE(parse_and_validate_valijson, v201_MeterValues_5_samples, ProtocolVersion::v201,
                  "MeterValues");
BENCHMARK_CAPTURE(parse_and_validate, v21_Heartbeat, ProtocolVersion::v21, "Heartbeat");
BENCHMARK_CAPTURE(parse_and_validate, v21_StatusNotification, ProtocolVersion::v21,
                  "StatusNotification");
BENCHMARK_CAPTURE(parse_and_validate, v21_MeterValues, ProtocolVersion::v21, "MeterValues");
// 2.1 payloads as they were checked before the compiled validator took 2.1's schemas.
BENCHMARK_CAPTURE(parse_and_validate_valijson, v21_MeterValues, ProtocolVersion::v21, "MeterValues");
BENCHMARK_CAPTURE(parse_only, v201_MeterValues_5_samples, ProtocolVersion::v201, "MeterValues");
BENCHMARK_CAPTURE(stock_valijson, v201_MeterValues_5_samples, ProtocolVersion::v201,
                  "MeterValues");
BENCHMARK_CAPTURE(stock_valijson, v16_MeterValues_5_samples, ProtocolVersion::v16,
                  "MeterValues");
// What a station under a tolerance profile costs when its MeterValues breaks the schema (a
// timestamp without offset, a unit and a measurand in vendor spelling): the refused first
// reading, the frame read again, the repairs, the second validation. Compare with
// parse_and_validate/v16_MeterValues_5_samples, the same message sent valid.
void repair_and_accept(benchmark::State& state) {
    nlohmann::json payload = nlohmann::json::parse(test_support::read_file(
        test_support::fixtures_dir() / "ocpp1.6" / "requests" / "MeterValues.json"));
    for (auto& mv : payload["meterValue"]) {
        mv["timestamp"] = mv["timestamp"].get<std::string>().substr(0, 19);
        for (auto& sv : mv["sampledValue"]) {
            sv["unit"] = "KWH";
            sv["measurand"] = "energy_active_import_register";
        }
    }
    const std::string text = ocpp::serialize(ocpp::Call{ocpp::MessageId("bench-0001"), "MeterValues", payload});
    ocpp::RepairPolicy policy;
    policy.allow(ocpp::RepairRule::timestamp_without_offset);
    policy.allow(ocpp::RepairRule::enum_case);
    const nlohmann::json& schema =
        *registry().document(ProtocolVersion::v16, "MeterValues", ocpp::SchemaKind::request);
    for (auto _ : state) {
        auto first = ocpp::parse_frame(text);
        auto refused = ocpp::accept_station_call(ProtocolVersion::v16,
                                                 std::move(std::get<ocpp::Call>(first.value())), registry());
        auto again = ocpp::parse_frame(text);
        auto& call = std::get<ocpp::Call>(again.value());
        auto repairs = ocpp::repair_payload(schema, call.payload, policy);
        auto accepted = ocpp::accept_station_call(ProtocolVersion::v16, std::move(call), registry());
        if (refused.ok() || repairs.empty() || !accepted.ok()) {
            state.SkipWithError("the broken message was not refused, or not repaired");
            break;
        }
        benchmark::DoNotOptimize(accepted);
    }
    state.SetItemsProcessed(state.iterations());
}

// A connection's bookkeeping for one station CALL (taken in, then answered) once it has
// answered enough CALLs to remember the most ids it keeps: every new id is looked up among
// them twice. Ids of UUID form (most firmware) or a counter (ocpp-loadgen's), all one length.
void rpc_bookkeeping(benchmark::State& state, bool uuids) {
    const auto id_of = [uuids](std::uint64_t n) {
        char buf[40];
        if (uuids) {
            std::snprintf(buf, sizeof buf, "6f1c2d3e-4a5b-4c6d-8e7f-%012llx",
                          static_cast<unsigned long long>(n));
        } else {
            std::snprintf(buf, sizeof buf, "%08llu", static_cast<unsigned long long>(n));
        }
        return ocpp::MessageId(buf);
    };
    constexpr std::uint64_t kIds = 4096;
    std::vector<ocpp::MessageId> ids;
    for (std::uint64_t n = 0; n < kIds; ++n) {
        ids.push_back(id_of(n));
    }
    ocpp::RpcState rpc;
    std::uint64_t n = 0;
    for (; n < 64; ++n) {
        rpc.on_incoming_call(ids[n]);
        rpc.complete_incoming(ids[n]);
    }
    for (auto _ : state) {
        const auto& id = ids[n++ % kIds];
        benchmark::DoNotOptimize(rpc.on_incoming_call(id));
        benchmark::DoNotOptimize(rpc.complete_incoming(id));
    }
    state.SetItemsProcessed(state.iterations());
}

BENCHMARK(rfc3339);
BENCHMARK(repair_and_accept);
BENCHMARK_CAPTURE(rpc_bookkeeping, uuid_ids, true);
BENCHMARK_CAPTURE(rpc_bookkeeping, counter_ids, false);

BENCHMARK_MAIN();
