// What an account's key signs in a certificate transfer (docs/PROTOCOL.md,
// "Accounts and certificate transfer"). irp-server verifies these; irpctl
// computes them for a customer who signs with its own key, so the server
// never holds a customer's private key and a customer never holds the CA's.
#pragma once

#include <string>
#include <string_view>

#include "irp/base/bytes.hpp"
#include "irp/crypto/crypto.hpp"
#include "store/store.hpp"

namespace irp::server {

// SHA-256 over "IRP/1 transfer" || field(domain) || field(id) || field(from)
// || field(to) || field(u32 count) || field(device)... with the devices
// sorted; each field is length-prefixed (append_field). The domain keeps a
// signature made for one domain from being replayed in another where an
// account of the same name has the same key. The state, dates and policy
// are not part of it.
crypto::Digest transfer_digest(std::string_view domain, const Transfer& t);

enum class TransferSignature { offer, accept, reject };
const char* transfer_signature_name(TransferSignature kind);

// The bytes an account key signs:
//   offer:  "IRP/1 transfer-offer"  || digest   (by the from-account, unless it is the provider)
//   accept: "IRP/1 transfer-accept" || digest || field(policy rights text)   (by the to-account)
//   reject: "IRP/1 transfer-reject" || digest   (by the to-account)
Bytes transfer_message(TransferSignature kind, const crypto::Digest& digest, std::string_view policy_text = {});

// Does `signature` by `account`'s registered key verify over `message`?
// bad_possession_proof when not (or when the account has no key).
Result<void> check_account_signature(const Account& account, ByteView message, ByteView signature);

}  // namespace irp::server
