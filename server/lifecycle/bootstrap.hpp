// Which way an enrolling device proved it belongs to its class, checked
// against the class's policy (docs/PROTOCOL.md, "Bootstrap methods"):
//   token          HMAC proof from the class secret (derive_device_token)
//   preregistered  signature by the key its owner imported (irpctl register)
//   idevid         signature by the key of a manufacturer certificate that
//                  chains to one of the class's idevid_roots and names the device;
//                  the CSR's key must not be that certificate's key
//   approval       no proof at all: the request is held for an administrator
// The operational key in the CSR is the device's fresh key in every case; a
// bootstrap key only vouches for it.
#pragma once

#include <string>

#include "classes/class_registry.hpp"
#include "irp/core/server_session.hpp"
#include "store/store.hpp"

namespace irp::server {

enum class Proof { none, token, preregistered, idevid };
const char* proof_name(Proof p);

// The proof the request carries, verified; `none` is returned only when the
// class accepts "approval". Errors: bootstrap_not_allowed, bad_token_proof,
// not_registered, bad_bootstrap_proof, identity_mismatch.
Result<Proof> check_bootstrap(const RequestReceived& req, const ClassPolicy& policy, const ClassRegistry& classes,
                              Store& store, std::int64_t now);

}  // namespace irp::server
