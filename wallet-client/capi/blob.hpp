// The bytes the C API's storage slots hold (include/irp/wallet.h,
// IRP_WALLET_SLOT_*), written and read by the wallet only. Internal to
// idwallet_c and idwallet_c_posix; C callers see bytes.
//
//   CREDENTIALS: the key (PKCS#8 PEM), then the certificate and its chain
//                (PEM, leaf first): what idwallet's device.key and
//                device.crt hold, in one slot so that one atomic save is
//                the install.
//   PENDING:     "irp-pending-v1\n" REQUEST-ID "\n" DEVICE-ID "\n" CLASS-ID
//                "\n", then the key (PKCS#8 PEM).
//   CRL:         DER, as the CA signed it (no codec needed).
#pragma once

#include <string>
#include <string_view>

#include "idwallet.hpp"

namespace irp::wallet::capi {

std::string credentials_blob(const Credentials& c);
// file_error when it does not parse or the key is not the certificate's.
Result<Credentials> parse_credentials_blob(std::string_view blob);

std::string pending_blob(const PendingEnrollment& p);
Result<PendingEnrollment> parse_pending_blob(std::string_view blob);

// The largest slot contents the wallet reads back.
inline constexpr std::size_t kMaxCredentialsBlob = 64 * 1024;
inline constexpr std::size_t kMaxPendingBlob = 16 * 1024;

}  // namespace irp::wallet::capi
