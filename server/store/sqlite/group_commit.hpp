// Group commit for the SQLite store (store.hpp: an issuance is durable before
// the device sees it). With synchronous=FULL every COMMIT costs an fsync, so
// one commit per request would cap issuance at the disk's fsync rate.
// Writers that arrive while a commit is under way queue up; the next leader
// runs every queued write in ONE transaction, each inside its own SAVEPOINT
// so that a failing write (a renewal that lost its race, a duplicate serial)
// undoes only itself, then one COMMIT makes all of them durable. Every writer
// returns only after the COMMIT that carried its write, with that COMMIT's
// outcome: nothing is acknowledged before it is on disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "store/sqlite/db.hpp"

namespace irp::server::sqlite {

class GroupCommit {
public:
    using Body = std::function<Result<void>()>;
    static constexpr std::size_t kMaxBatch = 64;

    // Runs `body` (statements only, no BEGIN/COMMIT) in a batch transaction
    // on `db`, whose users all hold `db_mu`.
    Result<void> run(std::mutex& db_mu, Conn& db, const std::string& what, Body body);

    struct Stats {
        std::uint64_t commits = 0;
        std::uint64_t writes = 0;
    };
    Stats stats() const;

private:
    struct Op {
        const std::string* what;
        Body* body;
        Result<void> result;
        bool done = false;
    };
    void run_batch(Conn& db, std::vector<Op*>& batch);

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Op*> queue_;
    bool leading_ = false;
    Stats stats_;
};

}  // namespace irp::server::sqlite
