#include "store/sqlite/group_commit.hpp"

#include <algorithm>
#include <cstddef>

namespace irp::server::sqlite {

Result<void> GroupCommit::run(std::mutex& db_mu, Conn& db, const std::string& what, Body body) {
    Op op{&what, &body, {}, false};
    std::unique_lock lk(mu_);
    queue_.push_back(&op);
    while (!op.done) {
        if (leading_) {
            cv_.wait(lk);
            continue;
        }
        // Lead: take what has queued up (ours included) and commit it.
        leading_ = true;
        std::vector<Op*> batch;
        const std::size_t n = std::min(queue_.size(), kMaxBatch);
        batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        lk.unlock();
        {
            std::lock_guard db_lock(db_mu);
            run_batch(db, batch);
        }
        lk.lock();
        for (Op* o : batch) o->done = true;
        ++stats_.commits;
        stats_.writes += batch.size();
        leading_ = false;
        cv_.notify_all();
    }
    return op.result;
}

void GroupCommit::run_batch(Conn& db, std::vector<Op*>& batch) {
    Tx tx(db);
    if (auto r = tx.begin("group commit"); !r) {
        for (Op* o : batch) o->result = make_error(r.error().code, *o->what + ": " + r.error().message);
        return;
    }
    // The whole batch is lost (the transaction ended under us, or a savepoint
    // could not be managed): every write that had not failed on its own
    // fails now; the Tx guard rolls back whatever is left.
    auto lose_batch = [&](const std::string& why) {
        for (Op* o : batch)
            if (o->result.ok()) o->result = make_error(Code::storage_unavailable, *o->what + ": " + why);
    };
    std::size_t kept = 0;
    for (Op* o : batch) {
        if (auto r = exec(db.get(), "SAVEPOINT w", *o->what + ": savepoint"); !r) return lose_batch(r.error().message);
        o->result = (*o->body)();
        // Some errors (SQLITE_FULL, IOERR) end the whole transaction, and
        // with it the writes of this batch that had passed.
        if (sqlite3_get_autocommit(db.get())) return lose_batch("the transaction was rolled back by the database");
        if (o->result.ok()) {
            ++kept;
        } else if (auto r = exec(db.get(), "ROLLBACK TO w", *o->what + ": rollback to savepoint"); !r) {
            return lose_batch(r.error().message);
        }
        if (auto r = exec(db.get(), "RELEASE w", *o->what + ": release"); !r) return lose_batch(r.error().message);
    }
    if (kept == 0) return;  // nothing to commit; Tx rolls back the empty transaction
    if (auto r = tx.commit("group commit"); !r) lose_batch(r.error().message);
}

GroupCommit::Stats GroupCommit::stats() const {
    std::lock_guard lk(mu_);
    return stats_;
}

}  // namespace irp::server::sqlite
