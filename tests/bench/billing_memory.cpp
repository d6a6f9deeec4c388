// What one charging session costs ocpp-billing in memory, live and retired
// (docs/benchmarks.md "Billing: memory per session"): N closed sessions are applied to a Book,
// then retired; the heap in use (glibc's mallinfo2) is read after each step. 1.6: a
// StartTransaction (a dedupKey as long as the gateway's), 30 MeterValues, a StopTransaction;
// 2.0.1: 32 TransactionEvents under a UUID transaction id. Station ids of 20 characters.
// Usage: billing_memory [sessions, default 100000] [1.6|2.0.1, default 1.6]
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tools/billing/book.hpp"

namespace {

using nlohmann::json;

std::size_t heap_in_use() { return mallinfo2().uordblks; }

json event(const std::string& station, const char* action, std::string dedup, json payload, json reply = nullptr,
           const char* version = "1.6") {
    json e{{"stationId", station}, {"ocppVersion", version}, {"action", action}, {"dedupKey", std::move(dedup)},
           {"payload", std::move(payload)}};
    if (!reply.is_null()) {
        e["reply"] = std::move(reply);
    }
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
    const std::string version = argc > 2 ? argv[2] : "1.6";
    if (n < 1 || (version != "1.6" && version != "2.0.1")) {
        std::fprintf(stderr, "usage: billing_memory [sessions >= 1] [1.6|2.0.1]\n");
        return 2;
    }
    constexpr std::int64_t kChangedAt = 1;  // every session changed "at" 1 ms; retired before 2
    billing::Book book;
    const std::size_t empty = heap_in_use();
    for (long i = 0; i < n; ++i) {
        char station_id[32];
        std::snprintf(station_id, sizeof(station_id), "CS-ACME-NORTH-%06ld", i % 5000);
        const std::string station = station_id;
        if (version == "2.0.1") {
            char uuid[48];
            std::snprintf(uuid, sizeof(uuid), "8d2f3c1e-%04lx-4a5b-9c6d-%012lx", i % 65536, i);
            for (int seq = 0; seq < 32; ++seq) {
                const char* type = seq == 0 ? "Started" : seq == 31 ? "Ended" : "Updated";
                const json sample{{"value", 1.0 + seq / 10.0}, {"unitOfMeasure", {{"unit", "kWh"}}}};
                json payload{{"eventType", type}, {"timestamp", "2026-12-01T10:00:00Z"}, {"triggerReason", "MeterValuePeriodic"},
                             {"seqNo", seq}, {"transactionInfo", {{"transactionId", uuid}}},
                             {"evse", {{"id", 1}, {"connectorId", 1}}},
                             {"meterValue", json::array({json{{"timestamp", "2026-12-01T10:00:00Z"},
                                                              {"sampledValue", json::array({sample})}}})}};
                if (seq == 0) {
                    payload["idToken"] = {{"idToken", "04A2B3C4D5E6F7"}, {"type", "ISO14443"}};
                }
                if (seq == 31) {
                    payload["transactionInfo"]["stoppedReason"] = "EVDisconnected";
                }
                book.apply(event(station, "TransactionEvent", "t", std::move(payload), nullptr, "2.0.1"), nullptr, kChangedAt);
            }
            continue;
        }
        const long tx = i + 1;
        // A dedupKey as long as the gateway's (a SHA-256 in hex).
        const std::string dedup = std::string(64 - std::to_string(i).size(), 'a') + std::to_string(i);
        book.apply(event(station, "StartTransaction", dedup,
                         {{"connectorId", 1}, {"idTag", "04A2B3C4D5E6F7"}, {"meterStart", 1000},
                          {"timestamp", "2026-12-01T10:00:00Z"}},
                         {{"transactionId", tx}, {"idTagInfo", {{"status", "Accepted"}}}}),
                   nullptr, kChangedAt);
        for (int m = 0; m < 30; ++m) {
            const json sample{{"value", std::to_string(1000 + m * 100)}, {"unit", "Wh"}};
            book.apply(event(station, "MeterValues", "m" + std::to_string(m),
                             {{"connectorId", 1}, {"transactionId", tx},
                              {"meterValue", json::array({json{{"timestamp", "2026-12-01T10:10:00Z"},
                                                               {"sampledValue", json::array({sample})}}})}}),
                       nullptr, kChangedAt);
        }
        book.apply(event(station, "StopTransaction", "s",
                         {{"transactionId", tx}, {"meterStop", 5000}, {"timestamp", "2026-12-01T10:30:00Z"}, {"reason", "Local"}}),
                   nullptr, kChangedAt);
    }
    book.take_changed();
    book.take_removed();
    const std::size_t live = heap_in_use();
    const std::size_t retired = book.retire(kChangedAt + 1);
    const std::size_t after = heap_in_use();
    if (retired != static_cast<std::size_t>(n) || !book.sessions().empty()) {
        std::fprintf(stderr, "billing_memory: retired %zu of %ld sessions\n", retired, n);
        return 1;
    }
    std::printf("%ld closed %s sessions: %.0f bytes of heap each in memory, %.0f bytes each retired\n", n, version.c_str(),
                static_cast<double>(live - empty) / static_cast<double>(n),
                static_cast<double>(after - empty) / static_cast<double>(n));
    return 0;
}
