#include <catch2/catch.hpp>

#include "gateway/session/command_queue.hpp"

using gateway::session::CommandQueue;
using kafka_bridge::Command;
using ocpp::MessageId;
using ocpp::RpcState;
using namespace std::chrono_literals;

namespace {

Command command(std::string id, std::chrono::milliseconds timeout = 1000ms) {
    Command c;
    c.command_id = std::move(id);
    c.station_id = "CS-1";
    c.action = "Reset";
    c.payload = {{"type", "Soft"}};
    c.timeout = timeout;
    return c;
}

const RpcState::TimePoint kT0 = RpcState::TimePoint{} + 1h;

}  // namespace

TEST_CASE("commands go out one at a time, in order, bounded", "[session]") {
    RpcState rpc;
    CommandQueue q(rpc, 2);
    CHECK(q.push(command("a")));
    CHECK(q.push(command("b")));
    CHECK_FALSE(q.push(command("c")));  // full: the caller answers QueueFull
    CHECK(q.waiting() == 2);

    auto first = q.next_to_send();
    REQUIRE(first);
    CHECK(first->command_id == "a");
    q.sent(std::move(*first), MessageId("m1"), "2026-12-01T10:00:00.000Z", kT0);
    CHECK(rpc.outgoing_busy());
    CHECK_FALSE(q.next_to_send());  // one CALL outstanding
    CHECK(q.deadline() == kT0 + 1000ms);

    RpcState::Response::Kind kind{};
    CHECK_FALSE(q.answered(MessageId("other"), kind));
    CHECK(kind == RpcState::Response::Kind::unknown);
    auto done = q.answered(MessageId("m1"), kind);
    REQUIRE(done);
    CHECK(kind == RpcState::Response::Kind::matched);
    CHECK(done->command.command_id == "a");
    CHECK(done->message_id == MessageId("m1"));
    CHECK(done->sent_at == "2026-12-01T10:00:00.000Z");
    CHECK(q.outstanding() == nullptr);

    auto second = q.next_to_send();
    REQUIRE(second);
    CHECK(second->command_id == "b");
}

TEST_CASE("an unanswered command times out at its deadline and its late answer matches nothing", "[session]") {
    RpcState rpc;
    CommandQueue q(rpc, 4);
    q.push(command("a", 500ms));
    q.sent(*q.next_to_send(), MessageId("m1"), "t", kT0);
    CHECK_FALSE(q.expire(kT0 + 499ms));
    auto timed_out = q.expire(kT0 + 500ms);
    REQUIRE(timed_out);
    CHECK(timed_out->command.command_id == "a");
    RpcState::Response::Kind kind{};
    CHECK_FALSE(q.answered(MessageId("m1"), kind));
    CHECK(kind == RpcState::Response::Kind::late);
}

TEST_CASE("a closed connection hands back the outstanding command and the waiting ones", "[session]") {
    RpcState rpc;
    CommandQueue q(rpc, 4);
    q.push(command("a"));
    q.push(command("b"));
    q.push(command("c"));
    q.sent(*q.next_to_send(), MessageId("m1"), "t", kT0);
    auto left = q.take_all();
    REQUIRE(left.outstanding);
    CHECK(left.outstanding->command.command_id == "a");
    REQUIRE(left.waiting.size() == 2);
    CHECK(left.waiting[0].command_id == "b");
    CHECK(left.waiting[1].command_id == "c");
    CHECK(q.waiting() == 0);
    CHECK(q.outstanding() == nullptr);
}
