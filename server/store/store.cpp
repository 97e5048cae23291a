#include "store/store.hpp"

namespace irp::server {

const char* cert_status_name(CertStatus s) {
    switch (s) {
        case CertStatus::issued: return "issued";
        case CertStatus::installed: return "installed";
        case CertStatus::superseded: return "superseded";
        case CertStatus::install_failed: return "install_failed";
    }
    return "unknown";
}

const char* hold_state_name(HoldState s) {
    switch (s) {
        case HoldState::pending: return "pending";
        case HoldState::approved: return "approved";
        case HoldState::rejected: return "rejected";
        case HoldState::issued: return "issued";
        case HoldState::expired: return "expired";
    }
    return "unknown";
}

std::optional<HoldState> parse_hold_state(std::string_view s) {
    for (auto st : {HoldState::pending, HoldState::approved, HoldState::rejected, HoldState::issued, HoldState::expired})
        if (s == hold_state_name(st)) return st;
    return std::nullopt;
}

const char* transfer_state_name(TransferState s) {
    switch (s) {
        case TransferState::offered: return "offered";
        case TransferState::accepted: return "accepted";
        case TransferState::rejected: return "rejected";
        case TransferState::cancelled: return "cancelled";
    }
    return "unknown";
}

std::optional<TransferState> parse_transfer_state(std::string_view s) {
    for (auto st : {TransferState::offered, TransferState::accepted, TransferState::rejected, TransferState::cancelled})
        if (s == transfer_state_name(st)) return st;
    return std::nullopt;
}

}  // namespace irp::server
