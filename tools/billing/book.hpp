#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/billing/seq_nos.hpp"

namespace billing {

/// One meter register reading: when, and the register in Wh.
struct Reading {
    std::int64_t at_ms = 0;
    double wh = 0;
    bool operator==(const Reading& o) const { return at_ms == o.at_ms && wh == o.wh; }
};

/// Transaction ids in numeric order when they are numbers (1.6), else as text.
struct IdOrder {
    bool operator()(const std::string& a, const std::string& b) const {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
    }
};

/// "stationId|transactionId": the key of the session of that transaction (its first
/// generation). A '|' or '\' inside either id is written with a '\' before it, so ("A", "1|7")
/// and ("A|1", "7") are two keys; ids without those two characters keep the plain form.
std::string session_key(const std::string& station_id, const std::string& transaction_id);

/// One charging session as billing sees it (schemas/events/billing-session.schema.json).
struct Session {
    std::string key;  ///< session_key() of its canonical transaction, "|N" after it from the second generation
    /// 1, or N for the Nth session a station started under the same transaction id (firmware
    /// that numbers its transactions again after a reset): each is a session of its own.
    int generation = 1;
    std::string station_id;
    std::string ocpp_version;
    std::set<std::string, IdOrder> transaction_ids;  ///< the first is the canonical one
    std::optional<int> connector_id;        ///< 1.6 connectorId, 2.0.1 evse.connectorId
    std::optional<int> evse_id;             ///< 2.0.1 evse.id
    std::string id_token;
    std::optional<std::int64_t> started_ms;  ///< the start event's timestamp
    std::optional<std::int64_t> stopped_ms;  ///< the stop event's timestamp
    std::optional<Reading> first;  ///< earliest register reading (meterStart in 1.6)
    std::optional<Reading> last;   ///< latest register reading (meterStop in 1.6)
    std::string stop_reason;
    /// dedupKeys of its 1.6 StartTransaction events: a repeated start (a station that lost
    /// the answer) is recognised by it, also after a restart. Other resends need no memory:
    /// applying one again changes nothing.
    std::set<std::string> start_keys;
    /// 2.0.1: the seqNos of the TransactionEvents applied (what their dedupKey is made of;
    /// a resend repeats the seqNo, perhaps with a new timestamp). Written as ranges.
    SeqNos seq_nos;
    /// The time of the latest event that changed it (its record's Kafka timestamp, Unix ms; 0:
    /// not known — such a session is never late nor retired; ocpp-billing stamps a record of an
    /// earlier version when it reads it back). Not compared by operator==: it is set after a
    /// change is seen.
    std::int64_t updated_ms = 0;

    bool operator==(const Session& o) const;

    /// closed: a stop seen; open: a start seen; orphaned: neither (events of a transaction
    /// whose start billing never saw).
    std::string status() const;
    /// The latest register reading is below the earliest (a meter reset, replaced or rolled
    /// over, or a clock that jumped): energyWh is 0 and the record says so (meterWentBack).
    bool meter_went_back() const { return first && last && last->wh < first->wh; }
    nlohmann::json to_json() const;
    static std::optional<Session> from_json(const nlohmann::json& j);
};

/// What applying one station event did.
enum class Applied : std::uint8_t {
    changed,    ///< a session changed (or was created)
    duplicate,  ///< nothing new: a resend (its content was applied before)
    ignored,    ///< not a billing event (no transaction, another action)
    unusable,   ///< not a station event billing can read
    late,       ///< for a session closed and retired from memory: not applied (Book::retire)
};

/// Every charging session, built from the station events of the transaction and meter-value
/// topics: each merge keeps minima and maxima by timestamp and unions of sets, so the result
/// does not depend on how the topics' partitions interleave (they are read side by side, and
/// a replay after a crash reads them again). Within one partition the order is the stations':
/// a station's TransactionEvents are read in the order it sent them, which the rule for a
/// repeated seqNo below relies on.
///
/// 1.6: StartTransaction, MeterValues (with transactionId) and StopTransaction joined by
/// transactionId; a StartTransaction repeated by a station that lost the answer has a new
/// transactionId and the same dedupKey: the two ids are one session, under the smaller id.
/// 2.0.1: TransactionEvents joined by transactionId, a resend recognised by its seqNo (its
/// dedupKey is station + transactionId + seqNo); an Ended (Started) whose seqNo was seen, for a
/// session not ended (started) yet, is no resend and is applied. A start under a transaction id
/// whose session ended (a 2.0.1 Started after its Ended, a 1.6 StartTransaction that is no
/// repeat of the session's start), also one retired from memory, begins the id's next
/// generation: a session of its own under "stationId|transactionId|N", never merged into
/// the one before. A 1.6 MeterValues or StopTransaction resent
/// has the same payload and so the same dedupKey, and applying it again changes nothing: it
/// is a duplicate by that. The state stays one small record per session however long the
/// session, with no set of every dedupKey ever seen.
class Book {
public:
    /// `late_after_ms` (0: never): an event for a closed session whose record time is more than
    /// that after the session's last change is late (Applied::late), not applied — decided by
    /// the records' times alone, so it does not matter whether the session was still in memory
    /// (retire()) when the event was read.
    explicit Book(std::int64_t late_after_ms = 0) : late_after_ms_(late_after_ms) {}

    /// Applies one station event. `note`, when given, is set to why an event is unusable or
    /// late, and to what was done with one that is odd but applied (a repeated seqNo that
    /// cannot be a resend); it is left alone otherwise. `at_ms` is the event's time (its
    /// record's Kafka timestamp): a session it changes keeps the latest such time as
    /// `updated_ms`.
    Applied apply(const nlohmann::json& event, std::string* note = nullptr, std::int64_t at_ms = 0);
    /// Puts back a session read from the sessions topic (state after a restart); a later
    /// record of the same key replaces it. A closed session last changed before
    /// `retire_before_ms` is kept retired (its ids only; see retire()).
    void restore(Session session, std::int64_t retire_before_ms = 0);
    /// A tombstone on the sessions topic: the session was merged into another.
    void forget(const std::string& key);
    /// After the last restore()/forget(): indexes the sessions by transaction id and
    /// dedupKey (records come from several partitions in any order; only the end state
    /// is consistent).
    void restored();

    /// Closed sessions last changed before `before_ms` (and written: not among those changed
    /// since take_changed()) leave memory; their ids stay, so that an event for one is
    /// answered Applied::late instead of starting a session from that event alone, whose
    /// record would replace the closed one on the compacted topic. Returns how many left.
    std::size_t retire(std::int64_t before_ms);
    /// Sessions retired (from this run and read back as retired).
    std::size_t retired() const { return retired_.size(); }

    /// Sessions changed since the last call, and keys merged into another session since
    /// then (to be deleted on the sessions topic); both cleared.
    std::vector<const Session*> take_changed();
    std::vector<std::string> take_removed();

    const std::map<std::string, Session>& sessions() const { return sessions_; }

private:
    Session& session_for(const std::string& station, const std::string& transaction_id,
                         const std::string& version);
    /// Whether a start (`v16`: a StartTransaction with `dedup`; else a Started timed
    /// `started_at`) under `id_key` begins a new session: the id's session ended (or was
    /// retired) and this is no repeat of its start.
    bool reused(const std::string& id_key, const std::string& dedup, bool v16,
                std::optional<std::int64_t> started_at) const;
    /// Keeps when the retired 2.0.1 session `s` ended, for `id_key` (see retired_stops_).
    void remember_stop(const Session& s, const std::string& id_key);
    /// The highest generation seen of `id_key` (live or retired), 0 when none.
    int last_generation(const std::string& id_key) const;
    /// Starts the next generation of `transaction_id`'s session.
    Session& next_generation(const std::string& station, const std::string& transaction_id,
                             const std::string& version);
    /// Merges the session under `from` into the one under `into`.
    void merge(const std::string& from, const std::string& into);
    void index(const Session& s);
    /// Closed, and last changed more than late_after_ms_ before `at_ms`.
    bool stale(const Session& s, std::int64_t at_ms) const;

    std::int64_t late_after_ms_ = 0;

    std::map<std::string, Session> sessions_;
    /// "station|transactionId" of every id (aliases too) → key of its session.
    std::map<std::string, std::string> by_transaction_;
    /// dedupKey of a 1.6 StartTransaction → key of its session.
    std::map<std::string, std::string> by_start_key_;
    std::set<std::string> changed_;
    std::set<std::string> removed_;
    /// Keys of retired sessions, and "station|transactionId" of their other ids (a 1.6 start
    /// repeated under a second id).
    std::set<std::string> retired_;
    std::set<std::string> retired_aliases_;
    /// dedupKeys of retired sessions' 1.6 StartTransactions: a start repeated days later
    /// (another transaction id) is late, not a session of its own.
    std::set<std::string> retired_start_keys_;
    /// "station|transactionId" → its highest generation, for ids used more than once.
    std::map<std::string, int> generations_;
    /// 2.0.1 "station|transactionId" of retired sessions → when the latest ended: a Started
    /// timed after it is another transaction, one timed before a replay.
    std::map<std::string, std::int64_t> retired_stops_;
};

}  // namespace billing
